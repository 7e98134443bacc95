"""Ordering middleware from their ``before``/``after`` constraints.

Every module may contribute :class:`~rainmaker.Middleware` specs. ``before=["x"]`` means
"run before x" (wrap it, outermost first); ``after=["x"]`` means "run after x" (inside it).
The order is a topological sort that keeps contribution order among unconstrained
middleware (the HTTP pattern's own layers first, then each instance's in start order), so
adding a constraint never reshuffles unrelated layers. A constraint naming a middleware
that is not composed is ignored (it may belong to an optional pattern) and reported as a
warning; two middleware with one name, or constraints that form a cycle, are composition
errors naming the chain.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from rainmaker import CompositionError, Middleware, Problem


@dataclass(frozen=True)
class Contribution:
    """One middleware spec and the instance that contributed it.

    ``aliases`` are further names constraints may use for it (the fused edge layer answers
    to the name of each concern it implements).
    """

    middleware: Middleware
    instance: str
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.middleware.name, *self.aliases)

    def label(self) -> str:
        return f"{self.middleware.name} ({self.instance})"


@dataclass(frozen=True)
class MiddlewareOrder:
    """The computed order (outermost first) and warnings about ignored constraints."""

    layers: list[Contribution]
    warnings: list[str]


def order_middleware(contributions: Sequence[Contribution]) -> MiddlewareOrder:
    """Sort ``contributions`` outermost first; raise :class:`CompositionError` on conflicts."""
    problems: list[Problem] = []
    index: dict[str, int] = {}
    for position, item in enumerate(contributions):
        for name in item.names:
            if name in index:
                other = contributions[index[name]]
                problems.append(
                    Problem(
                        f"two middleware are named {name!r}: {other.label()} and {item.label()}",
                        instance=item.instance,
                        key="middleware",
                        fix="give each middleware a unique name",
                    )
                )
            else:
                index[name] = position
    if problems:
        raise CompositionError(problems)

    count = len(contributions)
    # edges[a] holds b when a must be outside b; why[(a, b)] keeps the constraint's wording.
    edges: list[set[int]] = [set() for _ in range(count)]
    why: dict[tuple[int, int], str] = {}
    warnings: list[str] = []
    for position, item in enumerate(contributions):
        spec = item.middleware
        for relation, names in (("before", spec.before), ("after", spec.after)):
            for name in names:
                target = index.get(name)
                if target is None:
                    warnings.append(
                        f"middleware {item.label()} is to run {relation} {name!r}, which is "
                        "not composed; the constraint is ignored"
                    )
                    continue
                outer, inner = (position, target) if relation == "before" else (target, position)
                if outer == inner:
                    problems.append(
                        Problem(
                            f"middleware {item.label()} is to run {relation} itself",
                            instance=item.instance,
                            key="middleware",
                            fix=f"remove {name!r} from its {relation} list",
                        )
                    )
                    continue
                edges[outer].add(inner)
                why.setdefault(
                    (outer, inner), f"{spec.name} {relation} {name} ({item.instance})"
                )
    if problems:
        raise CompositionError(problems)

    indegree = [0] * count
    for targets in edges:
        for target in targets:
            indegree[target] += 1
    ready = [position for position in range(count) if indegree[position] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        position = heapq.heappop(ready)
        order.append(position)
        for target in edges[position]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, target)
    if len(order) < count:
        cycle = _find_cycle(edges, {p for p in range(count) if indegree[p] > 0})
        names = [contributions[p].middleware.name for p in cycle]
        reasons = [why[(a, b)] for a, b in itertools.pairwise(cycle)]
        raise CompositionError(
            [
                Problem(
                    "middleware order conflict: " + " -> ".join(names),
                    instance=contributions[cycle[0]].instance,
                    key="middleware",
                    fix="these constraints cannot all hold ("
                    + "; ".join(reasons)
                    + "): remove or reverse one of them",
                )
            ]
        )
    return MiddlewareOrder([contributions[p] for p in order], warnings)


def _find_cycle(edges: list[set[int]], remaining: set[int]) -> list[int]:
    """One cycle among ``remaining`` nodes, as ``[a, b, …, a]`` (each outside the next)."""
    # Every node Kahn's sort left behind still has a predecessor among them, so walking
    # predecessors must come back to a node already seen: that closes a cycle.
    node = min(remaining)
    walk: list[int] = [node]
    seen = {node: 0}
    while True:
        node = min(p for p in remaining if node in edges[p])
        if node in seen:
            cycle = [*walk[seen[node]:], node]
            cycle.reverse()
            return cycle
        seen[node] = len(walk)
        walk.append(node)
