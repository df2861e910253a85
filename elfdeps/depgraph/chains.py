"""The chains of ``elfdeps why FILE LIB`` (issue 7): every simple chain of DT_NEEDED edges (and
filters, preloads) from the analysed file to an object LIB names, shortest first, then in DT_NEEDED
order hop by hop.

Diamonds make the number of chains exponential, so they are enumerated lazily, best first, with an
exact lower bound (each object's distance to the nearest target, one reverse breadth-first search),
and the enumeration stops at ``limit`` chains or ``budget`` expansions. How many were left out is
counted exactly by dynamic programming over a topological order when the relevant part of the graph
has no cycle (linear in edges), and reported as unknown otherwise. Nothing recurses.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import NamedTuple

from elfdeps.depgraph.pattern import matches
from elfdeps.model import Edge, LoadResult

__all__ = ["Chains", "find_chains"]

DEFAULT_BUDGET = 200_000  # partial chains expanded at most: bounds time on any graph


class Chains(NamedTuple):
    targets: tuple[int, ...]  # object indices LIB names, in load order
    chains: tuple[tuple[Edge, ...], ...]  # shortest first
    more: int | None  # chains not shown; None: more exist but were not counted (cycles, budget)


def _adjacency(result: LoadResult) -> list[list[tuple[int, Edge]]]:
    """Out-edges per object in DT_NEEDED order, one per (requester, target) pair: (position, edge)."""
    out: list[list[tuple[int, Edge]]] = [[] for _ in result.objects]
    seen: set[tuple[int, int]] = set()
    for edge in result.edges:
        if edge.target is None or (edge.requester, edge.target) in seen:
            continue
        seen.add((edge.requester, edge.target))
        out[edge.requester].append((len(out[edge.requester]), edge))
    return out


def _distances(out: list[list[tuple[int, Edge]]], targets: tuple[int, ...]) -> list[int | None]:
    """Hops from each object to the nearest target (None: no target reachable)."""
    incoming: list[list[int]] = [[] for _ in out]
    for requester, edges in enumerate(out):
        for _position, edge in edges:
            assert edge.target is not None
            incoming[edge.target].append(requester)
    distance: list[int | None] = [None] * len(out)
    queue = deque(targets)
    for target in targets:
        distance[target] = 0
    while queue:
        current = queue.popleft()
        step = distance[current]
        assert step is not None
        for requester in incoming[current]:
            if distance[requester] is None:
                distance[requester] = step + 1
                queue.append(requester)
    return distance


def _count(out: list[list[tuple[int, Edge]]], distance: list[int | None], targets: frozenset[int]) -> int | None:
    """Number of chains from object 0 to any target, or None when the relevant part has a cycle."""
    relevant = [index for index, hops in enumerate(distance) if hops is not None]
    indegree = dict.fromkeys(relevant, 0)
    for index in relevant:
        for _position, edge in out[index]:
            if edge.target in indegree:
                indegree[edge.target] += 1
    queue = deque(index for index in relevant if indegree[index] == 0)
    paths = dict.fromkeys(relevant, 0)
    if 0 in paths:
        paths[0] = 1
    ordered = 0
    total = 0
    while queue:
        index = queue.popleft()
        ordered += 1
        if index in targets:
            total += paths[index]
        for _position, edge in out[index]:
            target = edge.target
            if target in indegree:
                paths[target] += paths[index]
                indegree[target] -= 1
                if indegree[target] == 0:
                    queue.append(target)
    return total if ordered == len(relevant) else None


def find_chains(result: LoadResult, pattern: str, limit: int = 20, budget: int = DEFAULT_BUDGET) -> Chains:
    """The chains from the analysed file to every object ``pattern`` names (pattern.matches)."""
    targets = tuple(
        obj.index
        for obj in result.objects[1:]
        if matches(pattern, obj.name, obj.soname, obj.path if obj.found else None)
    )
    if not targets:
        return Chains((), (), 0)
    out = _adjacency(result)
    distance = _distances(out, targets)
    target_set = frozenset(targets)
    chains: list[tuple[Edge, ...]] = []
    # (lower bound of the full length, DT_NEEDED positions so far, last object, edges so far)
    start = distance[0]
    heap: list[tuple[int, tuple[int, ...], int, tuple[Edge, ...]]] = []
    if start is not None:
        heap.append((start, (), 0, ()))
    expanded = 0
    exhausted = True
    while heap:
        if len(chains) >= limit or expanded >= budget:
            exhausted = False
            break
        _bound, positions, last, hops = heapq.heappop(heap)
        expanded += 1
        if hops and last in target_set:
            chains.append(hops)
        on_chain = {0, *(edge.target for edge in hops)}
        for position, edge in out[last]:
            target = edge.target
            assert target is not None
            hops_left = distance[target]
            if hops_left is None or target in on_chain:
                continue
            heapq.heappush(heap, (len(hops) + 1 + hops_left, (*positions, position), target, (*hops, edge)))
    if exhausted:
        return Chains(targets, tuple(chains), 0)
    total = _count(out, distance, target_set)
    return Chains(targets, tuple(chains), None if total is None else total - len(chains))
