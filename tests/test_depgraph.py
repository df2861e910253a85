"""Graph queries over a load (elfdeps/depgraph.py) against brute force on random graphs, and the tree
model's contract on real programs; plus the start-up-cheap Fact/Symbolic against NamedTuple/StrEnum,
and the terminal escaping of untrusted names."""

from __future__ import annotations

import enum
import pickle
from typing import NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st

from elfdeps.depgraph.tree import DependencyIndex, NodeRole, dependency_tree
from elfdeps.facts import Fact, Symbolic
from elfdeps.loader.environment import LoaderEnv
from elfdeps.loader.graph import emulate
from elfdeps.model import DependencyKind, Edge, LoadedObject, LoadResult, Via
from elfdeps.render.printable import shown


def _graph(count: int, pairs: list[tuple[int, int]], preloads: set[int]) -> LoadResult:
    """A load of ``count`` objects whose edges are ``pairs``; as in a real load, each object reached
    from the main one is loaded by its first requester in breadth-first order."""
    edges = [
        Edge(
            requester,
            DependencyKind.PRELOAD if requester == 0 and target in preloads else DependencyKind.NEEDED,
            b"n",
            b"n",
            target,
            False,
        )
        for requester, target in pairs
    ]
    first: dict[int, int] = {}
    queue = [0]
    for node in queue:
        for edge in edges:
            target = edge.target
            if edge.requester == node and target is not None and target not in first and target != 0:
                first[target] = node
                queue.append(target)
    objects = tuple(
        LoadedObject(
            i,
            f"lib{i}".encode(),
            f"/l/lib{i}",
            True,
            Via.MAIN if i == 0 else Via.DEFAULT,
            None,
            None if i == 0 else first.get(i),
            0,
        )
        for i in range(count)
    )
    return LoadResult("/l/lib0", objects, tuple(edges), None)


def _reachable(result: LoadResult, start: int) -> set[int]:
    seen = {start}
    pending = [start]
    while pending:
        node = pending.pop()
        for edge in result.edges:
            reaches = edge.requester == node and edge.kind is not DependencyKind.PRELOAD
            if reaches and edge.target is not None and edge.target not in seen:
                seen.add(edge.target)
                pending.append(edge.target)
    return seen


graphs = st.integers(min_value=1, max_value=12).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30),
        st.sets(st.integers(0, n - 1), max_size=2),
    )
)


@settings(max_examples=300, deadline=None)
@given(graphs)
def test_needs_is_reachability_through_needed_edges(graph: tuple[int, list[tuple[int, int]], set[int]]) -> None:
    count, pairs, preloads = graph
    result = _graph(count, pairs, preloads)
    index = DependencyIndex(result)
    for start in range(count):
        expected = _reachable(result, start)
        assert {target for target in range(count) if index.needs(start, target)} == expected


@settings(max_examples=200, deadline=None)
@given(graphs)
def test_full_tree_marks_back_edges_as_cycles_and_repeats_the_rest(
    graph: tuple[int, list[tuple[int, int]], set[int]],
) -> None:
    count, pairs, _ = graph
    result = _graph(count, pairs, set())
    nodes, truncated = dependency_tree(result, full=True, limit=5000)
    if truncated:
        return
    for position, node in enumerate(nodes[1:], 1):
        ancestors = []
        parent = node.parent
        while parent is not None:
            ancestors.append(nodes[parent].object)
            parent = nodes[parent].parent
        assert (node.role is NodeRole.CYCLE) == (node.object in ancestors), (position, node)


def test_default_tree_of_a_chain_ten_thousand_deep_is_linear() -> None:
    count = 10_000
    result = _graph(count, [(i, i + 1) for i in range(count - 1)], set())
    nodes, truncated = dependency_tree(result)
    assert not truncated and len(nodes) == count and nodes[-1].depth == count - 1
    assert DependencyIndex(result).needs(0, count - 1) and not DependencyIndex(result).needs(count - 1, 0)


def test_default_tree_shows_each_object_of_ssh_once_under_its_loader() -> None:
    result = emulate("/usr/bin/ssh", LoaderEnv())
    nodes, _ = dependency_tree(result)
    assert sorted(node.object for node in nodes) == list(range(len(result.objects)))
    for node in nodes[1:]:
        assert node.parent is not None and result.objects[node.object].needed_by == nodes[node.parent].object


class _Point(NamedTuple):
    x: int
    label: str = "p"
    extra: tuple[int, ...] = ()


class _Fact(Fact):
    x: int
    label: str = "p"
    extra: tuple[int, ...] = ()


@given(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3).map(tuple))
def test_fact_behaves_as_a_named_tuple(x: int, label: str, extra: tuple[int, ...]) -> None:
    for args, kwargs in (((x,), {}), ((x, label), {"extra": extra}), ((), {"x": x, "label": label})):
        named, fact = _Point(*args, **kwargs), _Fact(*args, **kwargs)
        assert tuple(named) == tuple(fact) and named._asdict() == fact._asdict()
        assert fact.x == named.x and fact.label == named.label and fact.extra == named.extra
        assert tuple(named._replace(label="q")) == tuple(fact._replace(label="q"))
        assert pickle.loads(pickle.dumps(fact)) == fact and type(pickle.loads(pickle.dumps(fact))) is _Fact
        assert hash(fact) == hash(tuple(named)) and repr(fact) == repr(named).replace("_Point", "_Fact")
    assert _Fact._fields == _Point._fields


class _Colour(Symbolic):
    RED = "red"
    DARK_BLUE = "dark-blue"


class _EnumColour(enum.StrEnum):
    RED = "red"
    DARK_BLUE = "dark-blue"


def test_symbolic_behaves_as_a_str_enum() -> None:
    for ours, theirs in zip(_Colour, _EnumColour, strict=True):
        assert (ours.name, ours.value, str(ours), f"{ours}") == (theirs.name, theirs.value, str(theirs), f"{theirs}")
        assert _Colour(theirs.value) is ours and ours == theirs.value and hash(ours) == hash(theirs.value)
        assert pickle.loads(pickle.dumps(ours)) is ours
    assert len(_Colour) == 2


def test_shown_escapes_what_a_terminal_would_obey() -> None:
    assert shown("libz.so.1") == "libz.so.1" and shown("Müller/é.so") == "Müller/é.so"
    assert shown(b"\x1b[2J\x1b]0;X\x07lib.so") == "\\x1b[2J\\x1b]0;X\\x07lib.so"
    assert shown("a\nb\tc\x7f\x9b") == "a\\x0ab\\x09c\\x7f\\x9b"
    assert shown(b"lib\xff.so") == "lib\\xff.so"  # not UTF-8: the byte, escaped
    assert shown("evil\u202etxt.so") == "evil\\u202etxt.so"  # a bidi override
    assert shown("\u2028") == "\\u2028"
