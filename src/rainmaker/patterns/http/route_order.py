"""The app's own routes (OpenAPI document, docs page) matched after the patterns' routes.

A router tries its routes in order until one matches, so each route in front of an API
route costs every API request a failed match; FastAPI adds the OpenAPI route first, and the
docs page adds three more. They are asked for by a person now and then, while the patterns'
routes serve the traffic, so :func:`framework_routes_last` moves them behind those routes —
only when no request could match one of them and a pattern route both, which is when the
order decides nothing (the same route answers, or the same 405 or redirect).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount


def framework_routes_last(routes: list[BaseRoute], count: int) -> bool:
    """Move ``routes[:count]`` behind the rest when no path can reach both (see the
    module docstring). Returns whether they were moved."""
    framework, patterns = routes[:count], routes[count:]
    own = [_paths(route) for route in framework]
    others = [_paths(route) for route in patterns]
    if None in own or None in others:
        return False  # a route without a path (a Host route…): keep FastAPI's order
    for mine in own:
        for theirs in others:
            assert mine is not None and theirs is not None
            if _may_overlap(mine, theirs):
                return False  # a path could match both: the order decides, so keep it
    routes[:] = [*patterns, *framework]
    return True


Paths = tuple[str, bool]  # a static prefix, and whether the route matches more than it


def _paths(route: BaseRoute) -> Paths | None:
    """What the paths a route matches start with: its path up to its first parameter, and
    whether that is a prefix (a parameter follows, or it is a mount) or the whole path."""
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    static, brace, _ = path.partition("{")
    return static, bool(brace) or isinstance(route, Mount)


def _may_overlap(one: Paths, other: Paths) -> bool:
    (first, first_open), (second, second_open) = one, other
    if first_open and second_open:
        return first.startswith(second) or second.startswith(first)
    if first_open:
        return second.startswith(first)
    if second_open:
        return first.startswith(second)
    return first == second
