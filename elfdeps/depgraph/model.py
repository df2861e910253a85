"""The graph model of ``elfdeps graph``: one node per analysed file, loaded object, interpreter and
library not found, one edge per DT_NEEDED (and filter, preload) entry in DT_NEEDED order, each node
with its kind and its audit findings, and the groups of objects that carry the same Rust crate.

It is built from facts only (LoadResult, audit Finding, RustFacts) and holds no rendering choice:
render/dot.py draws it, render/html.py makes it interactive. Issue 7, DESIGN.md §3 (graph).
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import NamedTuple

from elfdeps.audit.rules import Finding, Severity
from elfdeps.elf import constants as C
from elfdeps.facts import TYPE_CHECKING
from elfdeps.model import Attempt, DependencyKind, Edge, LoadedObject, LoadResult, Via, via_label

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "GraphEdge",
    "GraphModel",
    "Group",
    "Node",
    "NodeKind",
    "RustFacts",
    "build_model",
    "edge_how",
    "edge_loads",
]


class NodeKind(StrEnum):
    EXECUTABLE = "executable"
    RUST_DYLIB = "rust-dylib"
    LIBSTD = "libstd"
    CDYLIB = "cdylib"
    C_LIBRARY = "c-library"
    SYSTEM = "system"
    MISSING = "missing"


class Group(NamedTuple):
    """Loaded objects tied together in the picture: one Rust crate with its own code in each."""

    label: str  # the crate, e.g. "std"
    members: tuple[str, ...]  # object paths (the loader's l_name)
    message: str
    severity: Severity = Severity.ERROR


class RustFacts(NamedTuple):
    """What the Rust stage knows: a Rust kind per object path (the others are decided here), and the
    duplicated-crate groups."""

    kinds: Mapping[str, NodeKind]
    groups: tuple[Group, ...] = ()


class Node(NamedTuple):
    id: str  # DOT/SVG/HTML id: n0, n1, ... in first-seen order
    name: bytes  # DT_SONAME, else the file name it was requested by
    path: str | None  # l_name; None for a library not found
    kind: NodeKind
    root: bool  # an analysed file
    how: str  # how the loader found it: "runpath", "rpath of main", "ld.so.cache", "not found", ...
    needed_by: tuple[str, ...]  # node ids, in edge order
    findings: tuple[Finding, ...]
    searched: tuple[Attempt, ...] = ()  # for a library not found: every place tried (first requester's search)
    hidden: int = 0  # dependencies left out by --max-depth
    members: int = 1  # objects folded into this node (--collapse-system)

    @property
    def problem(self) -> Severity | None:
        """The worst finding, not counting missing-library (drawn as the missing node itself)."""
        worst = None
        for finding in self.findings:
            if finding.rule == "missing-library":
                continue
            if worst is None or finding.severity.rank > worst.rank:
                worst = finding.severity
        return worst


class GraphEdge(NamedTuple):
    id: str
    source: str  # node id
    target: str  # node id
    name: bytes  # the DT_NEEDED string as written
    kind: DependencyKind
    how: str  # "runpath", ... for the edge that made the loader load it; "already loaded" for a reuse
    loads: bool  # this edge made the loader load (or look for) the target
    shadowed_path: str | None  # the different file this requester's own search finds
    unused: bool  # nothing is bound through it (audit unused-dependency)


class GraphModel(NamedTuple):
    nodes: tuple[Node, ...]
    edges: tuple[GraphEdge, ...]
    groups: tuple[Group, ...]  # members as node ids


def _is_executable(obj: LoadedObject) -> bool:
    facts = obj.facts
    if facts is None:
        return False
    return facts.interpreter is not None or facts.e_type == C.ET_EXEC or "PIE(1)" in facts.flags


def _system_dirs(result: LoadResult) -> frozenset[str]:
    system = result.system
    return frozenset(d.rstrip("/") for d in system.default_dirs) if system is not None else frozenset()


def _base_kind(obj: LoadedObject, system_dirs: frozenset[str]) -> NodeKind:
    if not obj.found:
        return NodeKind.MISSING
    if obj.index == 0 and _is_executable(obj):
        return NodeKind.EXECUTABLE
    if obj.via in (Via.INTERPRETER, Via.LD_SO_CACHE):
        return NodeKind.SYSTEM
    if obj.path is not None and os.path.dirname(obj.path).rstrip("/") in system_dirs:
        return NodeKind.SYSTEM
    return NodeKind.C_LIBRARY


def _node_name(obj: LoadedObject) -> bytes:
    """DT_SONAME; else the file name it was loaded by; a name not found stays whole."""
    if obj.soname:
        return obj.soname
    if not obj.found:
        return obj.name
    return os.path.basename(obj.name) or obj.name


def _key(obj: LoadedObject) -> tuple[str, str]:
    return ("missing", os.fsdecode(obj.name)) if not obj.found else ("object", obj.path or "")


def edge_loads(result: LoadResult, edge: Edge) -> bool:
    """This DT_NEEDED entry made the loader load (or look for) its target; the others reuse it."""
    return edge.target is not None and result.objects[edge.target].needed_by == edge.requester and not edge.reused


def edge_how(result: LoadResult, edge: Edge) -> str:
    """How the loader resolved one DT_NEEDED entry: "runpath", "rpath of main", "ld.so.cache", ... for
    the entry that loaded it, "already loaded" for a reuse, "not found"; filters and preloads say so."""
    assert edge.target is not None
    target, requester = result.objects[edge.target], result.objects[edge.requester]
    if not target.found:
        how = "not found"
    elif edge_loads(result, edge):
        how = via_label(target, requester)
    else:
        how = "already loaded"
    if edge.kind is not DependencyKind.NEEDED:
        how = f"{edge.kind.value}, {how}"
    return how


def build_model(results: Sequence[LoadResult], findings: Sequence[Finding], rust: RustFacts) -> GraphModel:
    """Nodes in first-seen order (files in order, objects in load order), edges in DT_NEEDED order.

    One node per loaded file (the same path in two analysed files is one node) and one per name not
    found (each requester's failed search is an edge to it). Linear in objects + edges + findings."""
    ids: dict[tuple[str, str], str] = {}
    first: dict[str, tuple[LoadedObject, LoadResult]] = {}
    kinds: dict[str, NodeKind] = {}
    roots: set[str] = set()
    for result in results:
        system_dirs = _system_dirs(result)
        for obj in result.objects:
            key = _key(obj)
            if key not in ids:
                node_id = ids[key] = f"n{len(ids)}"
                first[node_id] = (obj, result)
                kind = _base_kind(obj, system_dirs)
                if obj.path is not None and kind is not NodeKind.EXECUTABLE and obj.path in rust.kinds:
                    kind = rust.kinds[obj.path]
                kinds[node_id] = kind
            if obj.index == 0:
                roots.add(ids[key])

    edges: list[GraphEdge] = []
    seen_edges: set[tuple[str, str, bytes]] = set()
    needed_by: dict[str, dict[str, None]] = {}  # ordered sets: requesters in edge order
    unused = {(f.object, f.library) for f in findings if f.rule == "unused-dependency"}
    for result in results:
        for edge in result.edges:
            if edge.target is None:
                continue
            requester, target = result.objects[edge.requester], result.objects[edge.target]
            source_id, target_id = ids[_key(requester)], ids[_key(target)]
            if (source_id, target_id, edge.name) in seen_edges:
                continue
            seen_edges.add((source_id, target_id, edge.name))
            edges.append(
                GraphEdge(
                    id=f"e{len(edges)}",
                    source=source_id,
                    target=target_id,
                    name=edge.name,
                    kind=edge.kind,
                    how=edge_how(result, edge),
                    loads=edge_loads(result, edge),
                    shadowed_path=edge.shadowed_path,
                    unused=(requester.path, target.path) in unused,
                )
            )
            needed_by.setdefault(target_id, {})[source_id] = None

    by_object: dict[str, list[Finding]] = {}
    missing_by_name: dict[str, list[Finding]] = {}
    for finding in findings:
        by_object.setdefault(finding.object, []).append(finding)
        if finding.rule == "missing-library" and finding.library is not None:
            missing_by_name.setdefault(finding.library, []).append(finding)

    nodes = []
    for key, node_id in ids.items():
        obj, result = first[node_id]
        if obj.found:
            attached = tuple(by_object.get(obj.path or "", ()))
            loader = result.objects[obj.needed_by] if obj.needed_by is not None else None
            how = "analysed file" if obj.index == 0 else via_label(obj, loader)
        else:
            attached = tuple(missing_by_name.get(key[1], ()))
            how = "not found"
        nodes.append(
            Node(
                id=node_id,
                name=_node_name(obj),
                path=obj.path if obj.found else None,
                kind=kinds[node_id],
                root=node_id in roots,
                how=how,
                needed_by=tuple(needed_by.get(node_id, ())),
                findings=attached,
                searched=obj.attempts if not obj.found else (),
            )
        )
    path_ids = {key[1]: node_id for key, node_id in ids.items() if key[0] == "object"}
    groups = []
    for group in rust.groups:
        members = tuple(dict.fromkeys(path_ids[path] for path in group.members if path in path_ids))
        if len(members) >= 2:
            groups.append(group._replace(members=members))
    return GraphModel(tuple(nodes), tuple(edges), tuple(groups))
