"""Which pattern instance each route belongs to, so a request resolves for that instance.

The app serving HTTP (``framework-fastapi``) records, while it composes the routers, one
:class:`RouteOwner` per contributed route in a :class:`RouteOwners` table and hands the
table to every request in ``scope["state"]`` under :data:`STATE_KEY` (the edge layer
copies it there, the way servers copy an app's lifespan state). :func:`owner_for` then
finds the owner of the route that matched, from ``scope["route"]``.

One router object may be contributed by two instances of one pattern (a module-level
``APIRouter`` returned by both), so a route object can have several owners; they are then
told apart by the path that matched, since two instances never serve the same path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.exceptions import HTTPException

from rainmaker.kernel.capability import Capability
from rainmaker.kernel.errors import DependencyError

if TYPE_CHECKING:
    from rainmaker.kernel.registry import Services

T = TypeVar("T")

STATE_KEY = "rainmaker.route_owners"
"""The key of the :class:`RouteOwners` table in a request's ``scope["state"]``."""


@dataclass(frozen=True, eq=False)
class RouteOwner:
    """The instance that contributed a route, and what its requests resolve through.

    ``services`` is that instance's own view of the registry (bound to the providers
    resolution chose for it), ``settings`` its validated settings, ``provides`` the names
    of the capabilities its pattern provides and ``own`` looks up a service this instance
    registered itself (a capability it provides resolves to its own service, even when
    another instance provides the same capability).
    """

    instance: str
    services: Services
    settings: Any
    provides: frozenset[str] = frozenset()
    own: Callable[[Capability[Any]], Any] | None = None

    def get(self, capability: Capability[T]) -> T | None:
        """The service ``capability`` resolves to for this instance, or ``None``."""
        if self.own is not None and capability.name in self.provides:
            service: T | None = self.own(capability)
            return service
        return self.services.get(capability)

    def require(self, capability: Capability[T]) -> T:
        """The service, or a 503 problem naming the capability and the patterns to add."""
        service = self.get(capability)
        if service is None:
            raise self.unavailable(capability)
        return service

    def unavailable(self, capability: Capability[Any]) -> HTTPException:
        """The 503 a request gets while nothing provides ``capability``.

        Raised as an ``HTTPException`` because the problem handlers keep its detail: the
        capability's name and the patterns that provide it are no secret, and they are the
        fix. (A 5xx ``PatternError`` answers a generic sentence instead.)
        """
        return HTTPException(
            503,
            detail=f"this route needs {capability.name} (Inject({capability.name})), but no "
            f"running pattern instance provides it: {self.install_hint(capability)}",
        )

    def install_hint(self, capability: Capability[Any]) -> str:
        """``add an instance of X or Y to rainmaker.toml`` (installed providers), or how to
        get one installed."""
        try:
            # Services knows the installed providers; with nothing registered for the
            # capability its DependencyError carries exactly that advice as the hint.
            self.services.require(capability)
        except DependencyError as exc:
            if exc.hint:
                return exc.hint
        return f"install and compose a pattern that provides {capability.name}"


@dataclass
class RouteOwners:
    """``id(route) -> [(path pattern, owner)]`` for every route of one composed app.

    ``fallback`` owns requests whose route nobody recorded (the docs, a route added after
    composition): the instance serving HTTP.
    """

    fallback: RouteOwner | None = None
    _by_route: dict[int, list[tuple[re.Pattern[str] | None, RouteOwner]]] = field(
        default_factory=dict
    )

    def add(
        self, route: object, owner: RouteOwner, path_regex: re.Pattern[str] | None = None
    ) -> None:
        """Record ``owner`` for ``route`` (the object Starlette puts in ``scope["route"]``).

        ``path_regex`` is the full pattern the route answers under this owner; it is only
        consulted when one route object has several owners.
        """
        self._by_route.setdefault(id(route), []).append((path_regex, owner))

    def owner(self, route: object, path: str | None = None) -> RouteOwner | None:
        """The owner of ``route`` (matched against ``path`` when it has several)."""
        entries = self._by_route.get(id(route))
        if not entries:
            return self.fallback
        if len(entries) == 1 or path is None:
            return entries[0][1]
        for regex, owner in entries:
            if regex is not None and regex.match(path):
                return owner
        return entries[0][1]

    def instance_of(self, route: object, path: str | None = None) -> str | None:
        """The name of :meth:`owner`'s instance, when there is one."""
        owner = self.owner(route, path)
        return owner.instance if owner is not None else None

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._by_route.values())

    def __iter__(self) -> Iterator[RouteOwner]:
        for entries in self._by_route.values():
            for _, owner in entries:
                yield owner


def owner_for(scope: Mapping[str, Any]) -> RouteOwner:
    """The owner of the route a request matched (for ``Inject`` and the auth dependencies).

    Raises a 500 ``RuntimeError`` naming the fix when the app serving the request did not
    record route owners (a FastAPI app not composed by Rainmaker).
    """
    state = scope.get("state")
    owners: RouteOwners | None = state.get(STATE_KEY) if state is not None else None
    if owners is None:
        raise RuntimeError(
            "rainmaker.http dependencies (Inject, PatternSettings, CurrentUser…) resolve "
            "through the app Rainmaker composes; this request was served by a FastAPI app "
            "that Rainmaker did not compose (serve it with rainmaker.load(...) or "
            "`rainmaker run`)"
        )
    route = scope.get("route")
    owner = owners.owner(route, _route_path(scope)) if route is not None else owners.fallback
    if owner is None:
        raise RuntimeError("no instance owns this route and the app records no fallback owner")
    return owner


def _route_path(scope: Mapping[str, Any]) -> str:
    # What Starlette's routing matches against: the path below the root path.
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
