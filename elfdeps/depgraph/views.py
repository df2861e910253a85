"""Cuts of the graph model for ``elfdeps graph`` (issue 7): ``--focus LIB`` keeps what lies on a chain
from an analysed file to LIB, ``--max-depth N`` what is at most N DT_NEEDED hops from an analysed file,
``--collapse-system`` folds the system libraries into one node.

networkx holds the graph (imported here, lazily: only the graph command loads this module). Each cut
is one breadth-first search from a virtual source or sink, linear in edges; nothing recurses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from elfdeps.depgraph.model import GraphEdge, GraphModel, Node, NodeKind
from elfdeps.depgraph.pattern import matches
from elfdeps.errors import UsageError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["SYSTEM_NODE", "ViewOptions", "cut"]

SYSTEM_NODE = "system"
_VIRTUAL = "\0virtual"  # a node id no model node has


class ViewOptions(NamedTuple):
    focus: str | None = None
    max_depth: int | None = None
    collapse_system: bool = False


def _digraph(model: GraphModel) -> nx.DiGraph:
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(node.id for node in model.nodes)
    graph.add_edges_from((edge.source, edge.target) for edge in model.edges)
    return graph


def _keep(model: GraphModel, kept: set[str]) -> GraphModel:
    nodes = tuple(node for node in model.nodes if node.id in kept)
    edges = tuple(edge for edge in model.edges if edge.source in kept and edge.target in kept)
    groups = []
    for group in model.groups:
        members = tuple(member for member in group.members if member in kept)
        if len(members) >= 2:
            groups.append(group._replace(members=members))
    return GraphModel(nodes, edges, tuple(groups))


def _focus(model: GraphModel, pattern: str) -> GraphModel:
    """Every node and edge on a walk from an analysed file to an object ``pattern`` names."""
    import networkx as nx

    targets = [node.id for node in model.nodes if not node.root and matches(pattern, node.name, None, node.path)]
    if not targets:
        raise UsageError(f"--focus {pattern}: no loaded object or missing library matches")
    graph = _digraph(model)
    graph.add_edges_from((target, _VIRTUAL) for target in targets)
    kept = nx.ancestors(graph, _VIRTUAL)
    return _keep(model, kept)


def _max_depth(model: GraphModel, depth: int) -> GraphModel:
    """Nodes at most ``depth`` hops from an analysed file; a kept node counts its hidden dependencies."""
    import networkx as nx

    graph = _digraph(model)
    graph.add_edges_from((_VIRTUAL, node.id) for node in model.nodes if node.root)
    distance = nx.single_source_shortest_path_length(graph, _VIRTUAL, cutoff=depth + 1)
    kept = {node for node, hops in distance.items() if node != _VIRTUAL and hops <= depth + 1}
    hidden: dict[str, set[str]] = {}
    for edge in model.edges:
        if edge.source in kept and edge.target not in kept:
            hidden.setdefault(edge.source, set()).add(edge.target)
    cut = _keep(model, kept)
    nodes = tuple(node._replace(hidden=len(hidden.get(node.id, ()))) for node in cut.nodes)
    return cut._replace(nodes=nodes)


def _collapse_system(model: GraphModel) -> GraphModel:
    """The system libraries as one node; edges into (out of) any of them become one edge per requester
    (per dependency); edges among them disappear."""
    system = {node.id for node in model.nodes if node.kind is NodeKind.SYSTEM}
    if not system:
        return model
    folded = [node for node in model.nodes if node.id in system]
    nodes: list[Node] = []
    for node in model.nodes:
        if node.id not in system:
            nodes.append(node._replace(needed_by=tuple(dict.fromkeys(_fold(n, system) for n in node.needed_by))))
        elif node is folded[0]:
            needers = dict.fromkeys(_fold(n, system) for f in folded for n in f.needed_by)
            needers.pop(SYSTEM_NODE, None)
            nodes.append(
                Node(
                    id=SYSTEM_NODE,
                    name=b"system libraries",
                    path=None,
                    kind=NodeKind.SYSTEM,
                    root=False,
                    how="ld.so.cache, default directories, interpreter",
                    needed_by=tuple(needers),
                    findings=tuple(finding for f in folded for finding in f.findings),
                    members=len(folded),
                )
            )
    edges: list[GraphEdge] = []
    seen: set[tuple[str, str]] = set()
    for edge in model.edges:
        source, target = _fold(edge.source, system), _fold(edge.target, system)
        if source == target == SYSTEM_NODE:
            continue
        if SYSTEM_NODE in (source, target):
            if (source, target) in seen:
                continue
            seen.add((source, target))
            edges.append(edge._replace(source=source, target=target, unused=False))
        else:
            edges.append(edge)
    groups = []
    for group in model.groups:
        members = tuple(dict.fromkeys(_fold(member, system) for member in group.members))
        if len(members) >= 2:
            groups.append(group._replace(members=members))
    return GraphModel(tuple(nodes), tuple(edges), tuple(groups))


def _fold(node_id: str, system: set[str]) -> str:
    return SYSTEM_NODE if node_id in system else node_id


def cut(model: GraphModel, options: ViewOptions) -> GraphModel:
    """The model seen through the options, in this order: focus, depth, then collapse."""
    if options.focus is not None:
        model = _focus(model, options.focus)
    if options.max_depth is not None:
        model = _max_depth(model, options.max_depth)
    if options.collapse_system:
        model = _collapse_system(model)
    return model
