"""Queries over one emulated start's dependency graph: the objects in load order and the DT_NEEDED,
filter and preload edges between them.

Every query here is iterative and linear in edges (chains can be thousands deep, STYLE.md §20):
the children of each object, the tree the loader's decisions form (each object under the entry that
made the loader load it), and DT_NEEDED reachability (is B in A's own dependency closure?) through
bitsets over the graph's strongly connected components.
"""

from __future__ import annotations

from elfdeps.facts import Fact, Symbolic
from elfdeps.model import DependencyKind, Edge, LoadResult

__all__ = ["DependencyIndex", "NodeRole", "TreeNode", "dependency_tree"]


class DependencyIndex:
    """Each object's outgoing edges, in DT_NEEDED order, built once per result."""

    def __init__(self, result: LoadResult) -> None:
        self.result = result
        self.children: list[list[Edge]] = [[] for _ in result.objects]
        for edge in result.edges:
            self.children[edge.requester].append(edge)
        self._closures: list[int] | None = None
        self._component: list[int] = []

    def needs(self, requester: int, target: int) -> bool:
        """Whether ``target`` is in ``requester``'s own dependency closure (itself included):
        reachable through DT_NEEDED, DT_FILTER and DT_AUXILIARY edges, not through preloads."""
        if self._closures is None:
            self._component, self._closures = self._close()
        return bool(self._closures[self._component[requester]] >> target & 1)

    def _close(self) -> tuple[list[int], list[int]]:
        """Tarjan's strongly connected components (iteratively), then one bitset of reachable objects
        per component, ORed in reverse topological order: each edge is visited once."""
        count = len(self.children)
        successors = [
            [edge.target for edge in edges if edge.target is not None and edge.kind is not DependencyKind.PRELOAD]
            for edges in self.children
        ]
        index = [-1] * count
        low = [0] * count
        on_stack = [False] * count
        component = [-1] * count
        stack: list[int] = []
        components: list[list[int]] = []  # in reverse topological order (Tarjan's completion order)
        counter = 0
        for root in range(count):
            if index[root] != -1:
                continue
            work = [(root, 0)]
            while work:
                node, position = work.pop()
                if position == 0:
                    index[node] = low[node] = counter
                    counter += 1
                    stack.append(node)
                    on_stack[node] = True
                descended = False
                nexts = successors[node]
                while position < len(nexts):
                    child = nexts[position]
                    position += 1
                    if index[child] == -1:
                        work.append((node, position))
                        work.append((child, 0))
                        descended = True
                        break
                    if on_stack[child]:
                        low[node] = min(low[node], index[child])
                if descended:
                    continue
                if low[node] == index[node]:
                    members = []
                    while True:
                        member = stack.pop()
                        on_stack[member] = False
                        component[member] = len(components)
                        members.append(member)
                        if member == node:
                            break
                    components.append(members)
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
        closures = [0] * len(components)
        for number, members in enumerate(components):  # successors' components are complete already
            bits = 0
            for member in members:
                bits |= 1 << member
                for child in successors[member]:
                    if component[child] != number:
                        bits |= closures[component[child]]
            closures[number] = bits
        return component, closures


class NodeRole(Symbolic):
    ROOT = "root"
    LOADS = "loads"  # the entry that made the loader load the object: its dependencies follow
    REPEAT = "repeat"  # a later reference to an object shown elsewhere (only in the full view)
    CYCLE = "cycle"  # a reference back to an object on the path from the root (full view)
    NOT_FOUND = "not-found"


class TreeNode(Fact):
    """One line of the dependency tree, in pre-order."""

    parent: int | None  # position of the parent node in the list; None for the root
    depth: int
    object: int  # index of the object in load order
    edge: Edge | None  # the entry that leads here; None for the root
    role: NodeRole
    hidden_children: int = 0  # dependencies not shown below this node (--max-depth)


def dependency_tree(
    result: LoadResult,
    index: DependencyIndex | None = None,
    *,
    full: bool = False,
    max_depth: int | None = None,
    limit: int = 200_000,
) -> tuple[list[TreeNode], bool]:
    """The tree in pre-order, and whether ``limit`` cut it short.

    Default view: each object once, under the entry that made the loader load it (its first
    requester in load order); later references are left out, except a reuse that shadows the
    requester's own search (shown as a repeat, without its dependencies). ``full``: every entry of every object,
    each subtree repeated wherever it is referenced, a reference back to an ancestor marked as a cycle
    (lddtree's -a; it can grow exponentially on diamonds, hence ``limit``).
    """
    index = index or DependencyIndex(result)
    objects = result.objects
    nodes = [TreeNode(None, 0, 0, None, NodeRole.ROOT)]
    expanded = {0}
    on_path = {0}  # objects on the path from the root to the node being expanded
    # Explicit stack of frames: (node position, its edges, the next edge to show).
    stack: list[tuple[int, list[Edge], int]] = [(0, index.children[0], 0)]
    while stack:
        position, edges, next_edge = stack.pop()
        descended = False
        while next_edge < len(edges):
            edge = edges[next_edge]
            next_edge += 1
            target = edge.target
            if target is None:
                continue  # an auxiliary filtee the loader dropped
            obj = objects[target]
            if not obj.found:
                role = NodeRole.NOT_FOUND
            elif target in on_path:
                if not full:
                    continue
                role = NodeRole.CYCLE
            elif obj.needed_by == edge.requester and target not in expanded:
                role = NodeRole.LOADS
            elif not full and edge.shadowed_path is None:
                continue  # shown once, where it was loaded (a shadowed reuse is worth its line)
            else:
                role = NodeRole.REPEAT
            parent = nodes[position]
            if max_depth is not None and parent.depth + 1 > max_depth:
                nodes[position] = parent._replace(hidden_children=parent.hidden_children + 1)
                continue
            if len(nodes) >= limit:
                return nodes, True
            if role is NodeRole.LOADS:
                expanded.add(target)
            nodes.append(TreeNode(position, parent.depth + 1, target, edge, role))
            if (role is NodeRole.LOADS or (full and role is NodeRole.REPEAT)) and index.children[target]:
                stack.append((position, edges, next_edge))
                stack.append((len(nodes) - 1, index.children[target], 0))
                on_path.add(target)
                descended = True
                break
        if not descended and position != 0:
            on_path.discard(nodes[position].object)
    return nodes, False
