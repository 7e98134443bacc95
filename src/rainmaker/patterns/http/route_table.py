"""The route table ``rainmaker routes`` prints: method, path, owner and authentication.

Authentication convention: a route *requires authentication* when its dependency tree
(its own dependencies, its router's and their sub-dependencies) contains a FastAPI
security scheme (any ``fastapi.security`` class: ``OAuth2PasswordBearer``,
``HTTPBearer``, ``APIKeyHeader``…, or a subclass), which is also what puts a ``security``
requirement in the OpenAPI document. When every scheme found is built with
``auto_error=False`` the route works without credentials and is reported ``optional``.
Auth patterns should therefore expose their guards as dependencies built on a
``fastapi.security`` scheme.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from fastapi.security.base import SecurityBase
from starlette.routing import BaseRoute, Mount, WebSocketRoute

Auth = Literal["yes", "optional", "no"]


@dataclass(frozen=True)
class RouteInfo:
    """One mounted route."""

    methods: tuple[str, ...]
    path: str
    instance: str
    pattern: str
    auth: Auth
    name: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "methods": list(self.methods),
            "path": self.path,
            "instance": self.instance,
            "pattern": self.pattern,
            "auth": self.auth,
            "name": self.name,
        }


def route_table(
    routes: list[BaseRoute],
    owner_of: Callable[[BaseRoute, str], str | None],
    patterns: Mapping[str, str],
    *,
    default_owner: str,
) -> list[RouteInfo]:
    """Every route, sorted by path then method.

    ``owner_of(route, path)`` names the instance that contributed a router's own route
    object at that path (one module-level router may be mounted by two instances); routes
    it does not know, such as the docs, belong to ``default_owner``. ``patterns`` maps
    instances to pattern ids.
    """
    rows: list[RouteInfo] = []
    for context in iter_route_contexts(routes):
        route = context.original_route
        path = context.path or ""
        owner = owner_of(route, path) or default_owner
        pattern = patterns.get(owner, "?")
        name = context.name or ""
        dependant = getattr(context, "dependant", None)
        auth = requires_auth(dependant) if isinstance(dependant, Dependant) else "no"
        if isinstance(route, Mount):
            rows.append(RouteInfo(("*",), f"{path}/*", owner, pattern, "no", name))
        elif isinstance(route, WebSocketRoute | APIWebSocketRoute):
            rows.append(RouteInfo(("WS",), path, owner, pattern, auth, name))
        else:
            methods = tuple(sorted(context.methods or ()))
            rows.append(RouteInfo(methods, path, owner, pattern, auth, name))
    return sorted(rows, key=lambda row: (row.path, row.methods))


def requires_auth(dependant: Dependant) -> Auth:
    """Whether the dependency tree holds a security scheme (see the module docstring)."""
    found = [
        call
        for call in _calls(dependant)
        if isinstance(call, SecurityBase)
    ]
    if not found:
        return "no"
    if all(getattr(call, "auto_error", True) is False for call in found):
        return "optional"
    return "yes"


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)
