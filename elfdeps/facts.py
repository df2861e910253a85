"""Immutable typed records and named string constants that cost nothing at import.

``Fact`` is what ``typing.NamedTuple`` is, and ``Symbolic`` what ``enum.StrEnum`` is, to the type
checker (the names are aliases of those when type checking). At run time they are two small classes
written here, because the originals cost ``elfdeps list`` a third of its start-up: importing
``typing`` and ``enum`` (and ``re`` with it), then ~0.1 ms per NamedTuple class for the source
code it compiles and execs, ~0.15 ms per enum class; ``list`` defines about thirty of them.

A ``Fact`` is a tuple: fields by position and by name, defaults, ``_replace``, ``_fields``,
``_asdict``, equality, hashing, ordering, unpacking and pickling as a NamedTuple has them; building
one is as fast as building a NamedTuple: a class gets the same kind of ``__new__`` when its first
instance is made, one compiled body per number of fields renamed to the class's own fields. A
``Symbolic`` member is a ``str`` subclass instance, unique per value, with ``.value`` and ``.name``;
``Cls(value)`` returns the member and iterating the class lists them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # mypy treats this name as True; importing typing's would cost 3 ms
if TYPE_CHECKING:
    from enum import StrEnum as Symbolic
    from functools import cached_property as computed_once
    from typing import NamedTuple as Fact
else:
    try:  # namedtuple's field descriptor, in C: reading a field costs what indexing does
        from _collections import _tuplegetter
    except ImportError:  # an interpreter without it: a property around operator.itemgetter
        from operator import itemgetter

        def _tuplegetter(position, doc):
            return property(itemgetter(position), doc=doc)

    class computed_once:
        """functools.cached_property without importing functools (and collections) on the list/tree
        path: the value is computed on first access and stored in the instance's __dict__."""

        def __init__(self, function):
            self.function = function
            self.name = function.__name__
            self.__doc__ = function.__doc__

        def __set_name__(self, owner, name):
            self.name = name

        def __get__(self, instance, owner=None):
            if instance is None:
                return self
            value = instance.__dict__[self.name] = self.function(instance)
            return value

    class _FactType(type):
        """Turns the annotated fields of a Fact subclass into tuple positions and defaults."""

        def __new__(mcs, name, bases, namespace):
            if name == "Fact" and not any(isinstance(base, _FactType) for base in bases):
                return super().__new__(mcs, name, bases, namespace)
            annotations = namespace.get("__annotations__", {})
            fields = tuple(field for field, kind in annotations.items() if not str(kind).startswith("ClassVar"))
            defaults = {field: namespace.pop(field) for field in fields if field in namespace}
            for position, field in enumerate(fields):
                namespace[field] = _tuplegetter(position, f"field {position}: {field}")
            namespace["__slots__"] = ()
            namespace["__new__"] = _first_new  # each class its own: a subclass never inherits a compiled one
            namespace["_fields"] = fields
            namespace["_field_defaults"] = defaults
            return super().__new__(mcs, name, bases, namespace)

    _tuple_new = tuple.__new__

    # The __new__ bodies for 0 to 14 fields, written out so that they come compiled from the byte-code
    # cache (exec-ing them took 1.3 ms of an audit: twelve field counts); larger counts are made below.
    _NEW_BODIES = (
        lambda _cls: _tuple_new(_cls, ()),
        lambda _cls, _0: _tuple_new(_cls, (_0,)),
        lambda _cls, _0, _1: _tuple_new(_cls, (_0, _1)),
        lambda _cls, _0, _1, _2: _tuple_new(_cls, (_0, _1, _2)),
        lambda _cls, _0, _1, _2, _3: _tuple_new(_cls, (_0, _1, _2, _3)),
        lambda _cls, _0, _1, _2, _3, _4: _tuple_new(_cls, (_0, _1, _2, _3, _4)),
        lambda _cls, _0, _1, _2, _3, _4, _5: _tuple_new(_cls, (_0, _1, _2, _3, _4, _5)),
        lambda _cls, _0, _1, _2, _3, _4, _5, _6: _tuple_new(_cls, (_0, _1, _2, _3, _4, _5, _6)),
        lambda _cls, _0, _1, _2, _3, _4, _5, _6, _7: _tuple_new(_cls, (_0, _1, _2, _3, _4, _5, _6, _7)),
        lambda _cls, _0, _1, _2, _3, _4, _5, _6, _7, _8: _tuple_new(_cls, (_0, _1, _2, _3, _4, _5, _6, _7, _8)),
        lambda _cls, _0, _1, _2, _3, _4, _5, _6, _7, _8, _9: _tuple_new(_cls, (_0, _1, _2, _3, _4, _5, _6, _7, _8, _9)),
        lambda _cls, _0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10: _tuple_new(
            _cls, (_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10)
        ),
        lambda _cls, _0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11: _tuple_new(
            _cls, (_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11)
        ),
        lambda _cls, _0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12: _tuple_new(
            _cls, (_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12)
        ),
        lambda _cls, _0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13: _tuple_new(
            _cls, (_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13)
        ),
    )

    # number of fields -> the code of a __new__ taking that many: compiled code, not analysis state,
    # and bounded (a dozen field counts in the whole package)
    _new_templates = {count: body.__code__ for count, body in enumerate(_NEW_BODIES)}

    def _new_template(count):
        known = _new_templates.get(count)
        if known is None:
            names = [f"_{position}" for position in range(count)]
            values = "".join(f"{name}, " for name in names)
            source = f"def __new__(_cls, {', '.join(names)}):\n    return _tuple_new(_cls, ({values}))\n"
            namespace = {}
            exec(source, namespace)  # the source is made of numbered names only
            known = _new_templates[count] = namespace["__new__"].__code__
        return known

    def _compiled_new(cls):
        # One compiled body per number of fields, renamed per class: compiling and exec-ing source for
        # each class cost ~0.1 ms apiece, 5 ms of an audit (53 classes, a dozen field counts).
        fields = cls._fields
        defaults = cls._field_defaults
        if tuple(defaults) != fields[len(fields) - len(defaults) :]:
            raise TypeError(f"{cls.__name__}: a field without a default follows one with a default")
        code = _new_template(len(fields)).replace(
            co_varnames=("_cls", *fields), co_name="__new__", co_qualname=f"{cls.__qualname__}.__new__"
        )
        made = type(_compiled_new)(code, {"_tuple_new": tuple.__new__}, "__new__", tuple(defaults.values()) or None)
        made.__qualname__ = f"{cls.__qualname__}.__new__"
        return made

    def _first_new(cls, *args, **kwargs):
        # The first instance of a class compiles its own __new__ (what namedtuple does for every
        # class at definition time): classes never instantiated cost nothing, the others build
        # instances as fast as a NamedTuple's.
        made = _compiled_new(cls)
        cls.__new__ = made
        return made(cls, *args, **kwargs)

    class Fact(tuple, metaclass=_FactType):
        __slots__ = ()  # subclasses get _fields, _field_defaults and __new__ from _FactType

        # NamedTuple's _make without its length check, one C call: for the hot loops that build facts
        # from values they list in field order (binding makes ~600k in an audit of /usr/lib).
        _make = classmethod(tuple.__new__)

        def __getnewargs__(self):
            return tuple(self)

        def _replace(self, **changes):
            values = [changes.pop(field, value) for field, value in zip(self._fields, self, strict=True)]
            if changes:
                raise ValueError(f"{type(self).__name__} has no fields {sorted(changes)}")
            return tuple.__new__(type(self), values)

        def _asdict(self):
            return dict(zip(self._fields, self, strict=True))

        def __repr__(self):
            shown = ", ".join(f"{field}={value!r}" for field, value in zip(self._fields, self, strict=True))
            return f"{type(self).__name__}({shown})"

    class _SymbolicType(type):
        """Turns the upper-case string attributes of a Symbolic subclass into its members."""

        def __new__(mcs, name, bases, namespace):
            cls = super().__new__(mcs, name, bases, namespace)
            members = {}
            for attribute, value in namespace.items():
                if attribute.isupper() and isinstance(value, str):
                    member = str.__new__(cls, value)
                    member._name = attribute
                    setattr(cls, attribute, member)
                    members[value] = member
            cls._members = members
            return cls

        def __iter__(cls):
            return iter(cls._members.values())

        def __len__(cls):
            return len(cls._members)

    class Symbolic(str, metaclass=_SymbolicType):
        def __new__(cls, value):
            try:
                return cls._members[value]
            except KeyError:
                raise ValueError(f"{value!r} is not a valid {cls.__name__}") from None

        def __reduce__(self):
            return (type(self), (str(self),))

        @property
        def value(self):
            return str(self)

        @property
        def name(self):
            return self._name

        def __str__(self):
            return str.__str__(self)

        def __format__(self, spec):
            return str.__format__(str(self), spec)

        def __repr__(self):
            return f"<{type(self).__name__}.{self._name}: {str(self)!r}>"

        __hash__ = str.__hash__


__all__ = ["TYPE_CHECKING", "Fact", "Symbolic", "computed_once"]
