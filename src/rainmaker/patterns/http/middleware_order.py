"""Ordering middleware from their ``before``/``after`` constraints.

Every module may contribute :class:`~rainmaker.Middleware` specs. ``before=["x"]`` means
"run before x" (wrap it, outermost first); ``after=["x"]`` means "run after x" (inside it).
The order is :func:`rainmaker.topological_order`, the kernel's stable sort: it keeps
contribution order among unconstrained middleware (the HTTP pattern's own layers first,
then each instance's in start order), so adding a constraint never reshuffles unrelated
layers. A constraint naming a middleware
that is not composed is ignored (it may belong to an optional pattern) and reported as a
warning; two middleware with one name, or constraints that form a cycle, are composition
errors naming the chain.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from rainmaker import (
    CompositionError,
    Middleware,
    OrderingCycleError,
    Problem,
    topological_order,
)


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

    try:
        pairs = [(outer, inner) for outer, inners in enumerate(edges) for inner in inners]
        order = topological_order(range(count), pairs)
    except OrderingCycleError as exc:
        cycle: list[int] = exc.cycle
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
        ) from None
    return MiddlewareOrder([contributions[p] for p in order], warnings)

