"""An included pattern router's routes re-declared as the app router's own, matched once.

FastAPI keeps a router added with ``include_router`` as one route that is resolved on every
request, twice: the app router asks it whether it matches (a scan of its routes), then
hands it the request, and it scans again to find the route to run. With a dozen pattern
routers that is most of a small request's routing cost (``bench/http``). A route that is
the app router's own is matched once, by its compiled path.

:func:`flatten_included` runs after ``include_router`` has done its work (prefix, tags,
lifespan and startup/shutdown handlers merged into the app, and each route's effective
settings resolved): it builds each route again, of its own class, from the values FastAPI
resolved for it — read through the public :func:`fastapi.routing.iter_route_contexts`,
by the names of the route class's own parameters, so no merge rule is written here — and
puts these routes where the inclusion was (a nested router's routes too, in the order FastAPI
matches them). It leaves the inclusion as it is (slower, never wrong) when the router holds
anything a route of the app router could not carry (websockets, plain Starlette routes,
mounts, form or body limits of its own, frontend routes) or when any rebuilt route differs
from FastAPI's resolution in any value compared; so a FastAPI release that changes a
parameter or adds one costs speed, not behaviour.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

# Given positionally, or not a setting of the route (FastAPI passes the app router's own).
_NOT_COPIED = frozenset({"self", "path", "endpoint", "dependency_overrides_provider"})
# What the copy must agree on with FastAPI's resolution besides its parameters.
_ALSO_COMPARED = ("path_format", "unique_id")


def flatten_included(
    fastapi: FastAPI, router: APIRouter, index: int
) -> list[tuple[BaseRoute, APIRoute]]:
    """Replace the inclusion of ``router`` at ``fastapi.router.routes[index]`` by its routes.

    Returns each route of ``router`` (nested ones too) with the copy serving it, or an
    empty list when the inclusion stays (see the module docstring for when).
    """
    app_router = fastapi.router
    if app_router.form_limits or not _copyable(router):
        return []
    # In FastAPI's order of matching: a nested router's routes where it was included.
    contexts = list(iter_route_contexts(app_router.routes[index : index + 1]))
    copies = [copy for copy in map(_copy, contexts) if copy is not None]
    if not copies or len(copies) != len(contexts):
        return []
    app_router.routes[index : index + 1] = copies
    return [(context.original_route, copy) for context, copy in zip(contexts, copies, strict=True)]


def _copyable(router: APIRouter) -> bool:
    """Whether nothing of ``router`` (or of a router it includes) lives outside its routes."""
    if (
        router.form_limits  # applied per request by the inclusion, not by the route
        or router.max_body_size is not None
        # Frontend builds (``router.frontend()``) are kept beside the routes, and FastAPI
        # has no public way to ask for them: copy only when that list is known empty.
        or getattr(router, "_low_priority_routes", None) != []
    ):
        return False
    for route in router.routes:
        if isinstance(route, APIRoute):
            continue
        # A nested router: FastAPI's inclusion of it names the router it includes.
        nested = getattr(route, "original_router", None)
        if not isinstance(nested, APIRouter) or not _copyable(nested):
            return False  # a websocket, a plain Starlette route, a mount…
    return True


def _copy(context: RouteContext) -> APIRoute | None:
    """The route FastAPI resolved for ``context``, as a route of its own; None if it cannot
    be built with every value equal."""
    original = context.original_route
    path, endpoint = context.path, context.endpoint
    if not isinstance(original, APIRoute) or path is None or endpoint is None:
        return None
    route_class = type(original)
    values: dict[str, Any] = {}
    for name, parameter in inspect.signature(route_class.__init__).parameters.items():
        if name in _NOT_COPIED or parameter.kind in (
            parameter.VAR_POSITIONAL,
            parameter.VAR_KEYWORD,
        ):
            continue
        try:
            values[name] = getattr(context, name)
        except AttributeError:
            # Not resolved by the inclusion (the route's own form limits): the route's value.
            if not hasattr(original, name):
                return None
            values[name] = getattr(original, name)
    try:
        copy = route_class(
            path,
            endpoint=endpoint,
            dependency_overrides_provider=context.dependency_overrides_provider,
            **values,
        )
    except TypeError:
        return None
    for name in (*values, *_ALSO_COMPARED):
        if getattr(copy, name, None) != getattr(context, name, getattr(original, name, None)):
            return None
    if _convertors(copy) != _convertors(context):  # convertors have no equality of their own
        return None
    return copy


def _convertors(route: Any) -> dict[str, type]:
    return {name: type(convertor) for name, convertor in route.param_convertors.items()}
