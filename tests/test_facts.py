"""Fact and Symbolic behave as typing.NamedTuple and enum.StrEnum do: checked against the originals."""

from __future__ import annotations

import enum
import pickle
import subprocess
import sys
import typing

import pytest

from elfdeps import facts


class PointFact(facts.Fact):
    x: int
    y: int = 3
    label: str = "p"


class PointTuple(typing.NamedTuple):
    x: int
    y: int = 3
    label: str = "p"


class ColourSymbolic(facts.Symbolic):
    RED = "red"
    GREEN = "green"


class ColourEnum(enum.StrEnum):
    RED = "red"
    GREEN = "green"


CALLS: list[tuple[tuple[object, ...], dict[str, object]]] = [
    ((1,), {}),
    ((1, 2), {}),
    ((1, 2, "q"), {}),
    ((), {"x": 4}),
    ((1,), {"label": "z"}),
    ((), {"label": "z", "x": 0, "y": 9}),
]

BAD_CALLS: list[tuple[tuple[object, ...], dict[str, object]]] = [
    ((), {}),
    ((1, 2, 3, 4), {}),
    ((1,), {"x": 2}),
    ((1,), {"z": 2}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_construction_matches_named_tuple(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    for _ in range(2):  # the first call compiles the class's __new__, the second uses it
        ours = PointFact(*args, **kwargs)  # type: ignore[arg-type]
        theirs = PointTuple(*args, **kwargs)  # type: ignore[arg-type]
        assert tuple(ours) == tuple(theirs)
        assert ours._asdict() == theirs._asdict()
        assert repr(ours) == repr(theirs).replace("PointTuple", "PointFact")
        assert ours._replace(y=7) == tuple(theirs._replace(y=7))
        assert pickle.loads(pickle.dumps(ours)) == ours
        assert hash(ours) == hash(tuple(theirs))
        assert (ours.x, ours.y, ours.label) == (theirs.x, theirs.y, theirs.label)


@pytest.mark.parametrize(("args", "kwargs"), BAD_CALLS)
def test_bad_construction_fails_as_named_tuple_does(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        PointTuple(*args, **kwargs)  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(TypeError):
            PointFact(*args, **kwargs)  # type: ignore[arg-type]


def test_class_metadata_matches_named_tuple() -> None:
    assert PointFact._fields == PointTuple._fields
    assert PointFact._field_defaults == PointTuple._field_defaults
    with pytest.raises(ValueError):
        PointFact(1)._replace(z=2)  # type: ignore[call-arg]


def test_make_matches_named_tuple() -> None:
    """_make (the hot loops' constructor) gives what the constructor and NamedTuple._make give."""
    values = (3, 4, "label")
    made = PointFact._make(values)
    assert type(made) is PointFact and made == PointFact(*values) and made.y == 4
    assert tuple(made) == tuple(PointTuple._make(values))


def test_fields_read_by_position_with_or_without_the_c_descriptor() -> None:
    """Fields are namedtuple's C descriptor where the interpreter has it, else a property; both read the
    tuple's own positions and refuse assignment."""
    assert type(PointFact.__dict__["y"]) is type(PointTuple.__dict__["y"])
    script = (
        "import sys; sys.modules['_collections'] = None\n"  # as on an interpreter without it
        "from elfdeps import facts\n"
        "class P(facts.Fact):\n    x: int\n    y: int = 3\n"
        "p = P(1)\n"
        "assert isinstance(P.__dict__['y'], property) and (p.x, p.y) == (1, 3), (p.x, p.y)\n"
        "try:\n    p.x = 2\nexcept AttributeError:\n    print('read-only')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "read-only\n", "")
    point = PointFact(7, 8)
    assert (point.x, point.y, point.label) == (7, 8, "p")
    with pytest.raises(AttributeError):
        point.x = 2  # type: ignore[misc]


def test_a_subclass_keeps_its_own_constructor() -> None:
    class Wide(facts.Fact):
        a: int
        b: int = 0

    class Narrow(facts.Fact):
        a: int

    Wide(1)  # compiles Wide's __new__; Narrow must not see it
    assert tuple(Narrow(5)) == (5,)
    with pytest.raises(TypeError):
        Narrow(1, 2)  # type: ignore[call-arg]


def test_classes_of_one_size_share_a_body_but_not_their_names() -> None:
    """Every class with three fields runs the same compiled __new__, renamed to its own fields:
    keywords and defaults are each class's, and error messages name its fields."""

    class Other(facts.Fact):
        left: str
        right: str = "r"
        middle: int = 0

    PointFact(1)
    assert tuple(Other("a")) == ("a", "r", 0) and tuple(Other(middle=5, left="b")) == ("b", "r", 5)
    assert Other.__dict__["__new__"] is not PointFact.__dict__["__new__"]
    assert Other.__new__.__code__.co_code == PointFact.__new__.__code__.co_code
    with pytest.raises(TypeError, match="left"):
        Other()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'x'"):
        Other("a", x=1)  # type: ignore[call-arg]


def test_a_default_before_a_required_field_is_refused() -> None:
    """NamedTuple refuses this at class definition; a Fact when its first instance is made (positional
    defaults would otherwise land on the wrong fields)."""

    class Misordered(facts.Fact):
        a: int = 0
        b: int  # type: ignore[misc]

    with pytest.raises(TypeError, match="follows one with a default"):
        Misordered(1, 2)


def test_symbolic_matches_str_enum() -> None:
    assert [str(member) for member in ColourSymbolic] == [str(member) for member in ColourEnum]
    assert len(ColourSymbolic) == len(ColourEnum)
    for ours, theirs in zip(ColourSymbolic, ColourEnum, strict=True):
        assert str(ours) == str(theirs)
        assert ours.name == theirs.name
        assert ours.value == theirs.value
        assert ColourSymbolic(theirs.value) is ours
        assert pickle.loads(pickle.dumps(ours)) is ours
        assert hash(ours) == hash(theirs.value)
    with pytest.raises(ValueError):
        ColourSymbolic("blue")
    with pytest.raises(ValueError):
        ColourEnum("blue")


def test_bodies_written_out_and_made_at_run_time_build_alike() -> None:
    """Up to 14 fields the body comes from the source (its byte-code cached); more are compiled when
    first needed: both build the tuple of their arguments, defaults and keywords included."""
    fact_type = vars(facts)["_FactType"]  # run-time only: mypy sees typing.NamedTuple
    for count in (0, 1, 2, 14, 15, 23):
        names = [f"f{position}" for position in range(count)]
        wide = fact_type(f"Wide{count}", (facts.Fact,), {"__annotations__": dict.fromkeys(names, "int")})
        values = tuple(range(count))
        made = wide(*values)
        assert tuple(made) == values and type(made) is wide
        assert tuple(wide(**dict(zip(names, values, strict=True)))) == values
        assert wide.__new__.__code__.co_varnames[: count + 1] == ("_cls", *names)
    assert len(vars(facts)["_NEW_BODIES"]) == 15
