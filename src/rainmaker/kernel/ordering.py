"""One stable topological sort, for the kernel's start order and the HTTP middleware order.

Both orders must be dependency-correct *and* predictable: when several items may come next,
the one given first goes first (the smallest position, a min-heap over Kahn's algorithm), so
an item moves only as far as a constraint makes it and adding a constraint never reshuffles
unrelated items. :class:`graphlib.TopologicalSorter` does not promise that: it emits every
ready item in waves, so an item released by a constraint goes behind all the items that
were ready before it, however late they were given.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T", bound=Hashable)


class OrderingCycleError(ValueError):
    """The constraints form a cycle; ``cycle`` is ``[a, b, …, a]``, each to come before the
    next."""

    def __init__(self, cycle: Sequence[Any]) -> None:
        super().__init__("ordering cycle: " + " -> ".join(map(str, cycle)))
        self.cycle: list[Any] = list(cycle)


def topological_order(nodes: Sequence[T], edges: Iterable[tuple[T, T]]) -> list[T]:
    """``nodes`` ordered so that for each ``(first, then)`` in ``edges`` first comes before
    then; among the nodes free to come next, the one earliest in ``nodes`` does.

    Raises :class:`OrderingCycleError` when the edges form a cycle, and ``ValueError`` when
    a node is given twice or an edge names a node not given.
    """
    position = {node: index for index, node in enumerate(nodes)}
    if len(position) != len(nodes):
        raise ValueError("topological_order: a node is given twice")
    count = len(nodes)
    successors: list[set[int]] = [set() for _ in range(count)]
    for first, then in edges:
        if first not in position or then not in position:
            missing = first if first not in position else then
            raise ValueError(f"topological_order: an edge names {missing!r}, not a given node")
        successors[position[first]].add(position[then])
    indegree = [0] * count
    for targets in successors:
        for target in targets:
            indegree[target] += 1
    ready = [index for index in range(count) if indegree[index] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for target in successors[index]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, target)
    if len(order) < count:
        remaining = {index for index in range(count) if indegree[index] > 0}
        raise OrderingCycleError([nodes[index] for index in _cycle(successors, remaining)])
    return [nodes[index] for index in order]


def _cycle(successors: list[set[int]], remaining: set[int]) -> list[int]:
    """One cycle among ``remaining`` positions, as ``[a, b, …, a]`` (each before the next)."""
    # Every node the sort left behind still has a predecessor among them, so walking
    # predecessors must come back to a node already seen: that closes a cycle.
    node = min(remaining)
    walk: list[int] = [node]
    seen = {node: 0}
    while True:
        node = min(p for p in remaining if node in successors[p])
        if node in seen:
            cycle = [*walk[seen[node] :], node]
            cycle.reverse()
            return cycle
        seen[node] = len(walk)
        walk.append(node)
