"""The running ``framework-fastapi`` module: one FastAPI app serving every pattern's routes.

Composition (:meth:`FastAPIModule.compose`, no I/O, so ``rainmaker routes`` can call it
on an app that is not started):

1. a FastAPI app with problem+json error handlers, OpenAPI and the docs page;
2. each instance's router mounted under its prefix (``mount = "/path"`` in the
   composition, else its pattern's default), its routes tagged with the instance's name;
   the health routes are this instance's own router; each route's owner is recorded in a
   :class:`rainmaker.http.RouteOwners` table (handed to every request, so ``Inject`` and
   ``PatternSettings`` resolve for that instance) and its ``Inject`` dependencies are
   checked against the composed instances (:func:`rainmaker.http.injection_report`);
   a router() that returns a whole FastAPI/Starlette *app* (``fastapi-app``) is mounted as
   an ASGI sub-application, after every router so a root mount catches only what no
   pattern serves, its routes recorded as that instance's (see :func:`_mount_sub_apps`);
3. the middleware of every module, this one's included (the fused edge layer, trusted
   hosts, CORS), wrapped around it in the order their constraints dictate.

Starting enters the merged lifespan of every router and of every mounted sub-application
(so their startup/shutdown handlers run, though the kernel, not the server, owns the ASGI
lifespan) and registers the
composed ASGI app as the ``Http`` service, which the kernel's application forwards every
``http`` and ``websocket`` scope to.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.routing import Router as StarletteRouter

from rainmaker import (
    AppContext,
    CompositionError,
    Health,
    Middleware,
    Module,
    PatternError,
    Problem,
    StartupError,
)
from rainmaker.capabilities.http import Http, HttpApp, Scope
from rainmaker.http import (
    STATE_KEY,
    RouteDependencies,
    RouteOwner,
    RouteOwners,
    injection_report,
)
from rainmaker.patterns.http.docs_page import install_docs_page
from rainmaker.patterns.http.edge import EDGE_NAMES, EdgeMiddleware
from rainmaker.patterns.http.health_routes import health_router
from rainmaker.patterns.http.middleware_order import Contribution, order_middleware
from rainmaker.patterns.http.openapi import install_openapi, operation_id
from rainmaker.patterns.http.problems import install_problem_handlers
from rainmaker.patterns.http.route_copies import flatten_included
from rainmaker.patterns.http.route_order import framework_routes_last
from rainmaker.patterns.http.route_table import RouteInfo, route_table
from rainmaker.patterns.http.settings import HttpSettings
from rainmaker.patterns.http.trusted_hosts import TrustedHostMiddleware


@dataclass
class ComposedApp:
    """The result of composition: the FastAPI app, the ASGI stack around it, and who owns what.

    ``owners`` maps ``id(route)`` of each contributed route object (as the router built
    it: the object FastAPI puts in ``scope["route"]`` and ``iter_route_contexts`` reports as
    ``original_route``) to the instance whose router contributed it; ``middleware`` lists
    the layers outermost first; ``routers`` are the plain Starlette routers, whose
    lifespans :meth:`FastAPIModule.start` enters itself (an ``APIRouter``'s is merged into
    the app's by ``include_router``), and ``sub_apps`` the mounted applications
    ``(instance, prefix, app)``, whose lifespans it enters too. ``route_owners`` is the same
    ownership with what a request resolves through (one route object may have several
    owners when two instances return the same module-level router; the path tells them
    apart).
    """

    fastapi: FastAPI
    asgi: HttpApp
    owners: dict[int, str]
    middleware: list[Contribution]
    routers: list[StarletteRouter] = field(default_factory=list)
    route_owners: RouteOwners = field(default_factory=RouteOwners)
    sub_apps: list[tuple[str, str, Starlette]] = field(default_factory=list)


class FastAPIModule(Module[HttpSettings]):
    """Builds, starts and serves the composed FastAPI app (see the module docstring)."""

    def __init__(self, settings: HttpSettings, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        self._composed: ComposedApp | None = None
        self._lifespans: AsyncExitStack | None = None
        # Filled when the routers' lifespans start; the edge copies it into each request.
        self._lifespan_state: dict[str, Any] = {}
        self._owners: dict[str, RouteOwner] = {}

    # -- what this module contributes -------------------------------------------------------

    def router(self) -> APIRouter:
        """The health routes (mounted under this instance's prefix)."""
        return health_router(
            self.ctx.app,
            self.settings.health,
            instance=self.ctx.instance,
            type_base=self.settings.problem_type_base,
        )

    def _probe_paths(self) -> tuple[str, ...]:
        """The liveness and readiness paths as requests carry them (under this instance's
        prefix), which the trusted-host check lets through for any Host."""
        prefix = self.ctx.instances[self.ctx.instance].prefix
        base = f"{prefix}{self.settings.health.path}"
        return (f"{base}/live", f"{base}/ready")

    def middleware(self) -> Sequence[Middleware]:
        """The edge layer always; trusted hosts and CORS when the settings ask for them."""
        settings = self.settings
        layers = [
            Middleware(
                "edge",
                _edge_factory(self._lifespan_state),
                options={
                    "settings": settings,
                    "instance": self.ctx.instance,
                    "log": self.ctx.log,
                    # No exemption: the docs page sets its own, as strict, CSP (docs_page).
                },
            )
        ]
        if "*" not in settings.trusted_hosts:
            layers.append(
                Middleware(
                    "trusted-hosts",
                    TrustedHostMiddleware,
                    options={
                        "hosts": settings.trusted_hosts,
                        "instance": self.ctx.instance,
                        "type_base": settings.problem_type_base,
                        "probe_paths": self._probe_paths(),
                    },
                    after=["edge"],
                )
            )
        cors = settings.cors
        if cors.allow_origins:
            layers.append(
                Middleware(
                    "cors",
                    CORSMiddleware,
                    options={
                        "allow_origins": cors.allow_origins,
                        "allow_methods": cors.allow_methods,
                        "allow_headers": cors.allow_headers,
                        "expose_headers": cors.expose_headers,
                        "allow_credentials": cors.allow_credentials,
                        "max_age": cors.max_age,
                    },
                    after=["edge"],
                )
            )
        return layers

    # -- composition ------------------------------------------------------------------------

    def compose(self) -> ComposedApp:
        """Build the FastAPI app and its middleware stack (cached; no I/O).

        Raises :class:`CompositionError` for a bad mount prefix, a router of the wrong
        type, two patterns claiming one method and path, or conflicting middleware order.
        """
        if self._composed is None:
            self._composed = self._compose()
        return self._composed

    def routes(self) -> list[RouteInfo]:
        """Every mounted route with its owner and whether it requires authentication."""
        composed = self.compose()
        patterns = {name: inst.pattern.id for name, inst in self.ctx.instances.items()}
        rows = route_table(
            composed.fastapi.routes,
            composed.route_owners.instance_of,
            patterns,
            default_owner=self.ctx.instance,
        )
        # A mounted app shows as "prefix/*" above; list its own routes too, under the prefix.
        for name, prefix, sub_app in composed.sub_apps:
            rows.extend(
                replace(row, path=prefix + row.path)
                for row in route_table(
                    sub_app.routes, lambda _route, _path: None, patterns, default_owner=name
                )
            )
        return sorted(rows, key=lambda row: (row.path, row.methods))

    def _compose(self) -> ComposedApp:
        settings = self.settings
        app = self.ctx.app
        problems: list[Problem] = []
        routers: list[tuple[str, str, Any]] = []
        for name, instance in self.ctx.instances.items():
            assert instance.module is not None
            router = instance.module.router()
            if router is None:
                continue
            prefix = instance.prefix
            if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
                problems.append(
                    Problem(
                        "the mount prefix must start with '/' and not end with one",
                        instance=name,
                        key="mount",
                        value=repr(prefix),
                        fix=f'write mount = "/{prefix.strip("/")}"',
                    )
                )
                continue
            if not isinstance(router, StarletteRouter | Starlette):
                problems.append(
                    Problem(
                        f"router() returned a {type(router).__name__}, not a FastAPI APIRouter "
                        "or a Starlette Router (or a FastAPI/Starlette app to mount)",
                        instance=name,
                        key="router",
                        fix="return an APIRouter from the module's router()",
                    )
                )
                continue
            routers.append((name, prefix, router))
        if problems:
            raise CompositionError(problems)

        fastapi = FastAPI(
            title=settings.title or app.name,
            version=settings.version,
            openapi_url=settings.openapi_url,
            # Our own page (docs_page): FastAPI's loads Swagger UI from a CDN.
            docs_url=None,
            redoc_url=None,
            generate_unique_id_function=operation_id,
            # Off unless asked for: its per-request checks of the global providers
            # cost about 4 µs, and the observability pattern instruments requests itself.
            telemetry=None
            if settings.fastapi_telemetry
            else {"tracing": False, "metrics": False, "logs": False},
            openapi_tags=[
                {
                    "name": name,
                    "description": f"{self.ctx.instances[name].pattern.name} "
                    f"({self.ctx.instances[name].pattern.id} "
                    f"{self.ctx.instances[name].pattern.version})",
                }
                for name, _, _ in routers
            ],
        )
        install_openapi(fastapi)
        if settings.docs_url and settings.openapi_url:
            install_docs_page(fastapi, docs_url=settings.docs_url, openapi_url=settings.openapi_url)
        framework_routes = len(fastapi.router.routes)  # OpenAPI and the docs page
        owners: dict[int, str] = {}
        route_owners = RouteOwners(fallback=self._route_owner(self.ctx.instance))
        install_problem_handlers(
            fastapi,
            http_instance=self.ctx.instance,
            owner_of=lambda scope: _owner_of(scope, route_owners),
            type_base=settings.problem_type_base,
            log=self.ctx.log,
        )
        plain_routers: list[StarletteRouter] = []
        sub_apps: list[tuple[str, str, Starlette]] = []
        checked: list[RouteDependencies] = []
        for name, prefix, router in routers:
            before = len(fastapi.router.routes)
            copied: list[tuple[BaseRoute, APIRoute]] = []
            if isinstance(router, Starlette):
                sub_apps.append((name, prefix, router))  # mounted below, after every router
                continue
            if isinstance(router, APIRouter):
                # FastAPI's public API: applies the prefix and tag to every route (nested
                # routers included) and merges the router's lifespan and startup/shutdown
                # handlers into the app's, which start() enters. Its routes then become the
                # app router's own where that changes nothing but the cost (route_copies).
                fastapi.include_router(router, prefix=prefix, tags=[name])
                copied = flatten_included(fastapi, router, before)
            elif prefix:
                fastapi.mount(prefix, router)
                plain_routers.append(router)
            else:
                fastapi.router.routes.extend(router.routes)
                plain_routers.append(router)
            owner = self._route_owner(name)
            # The pattern's own route objects name their owner too, copied or not (code
            # may look a route of its router up; requests carry the copy).
            for original, copy in copied:
                route_owners.add(original, owner, copy.path_regex)
            for context in iter_route_contexts(fastapi.router.routes[before:]):
                owners[id(context.original_route)] = name
                route_owners.add(
                    context.original_route, owner, getattr(context, "path_regex", None)
                )
                dependant = getattr(context, "dependant", None)
                if isinstance(dependant, Dependant):
                    methods = ",".join(sorted(context.methods or ("WS",)))
                    checked.append(RouteDependencies(f"{methods} {context.path}", name, dependant))
        # Behind the patterns' routes, which serve the traffic (when that changes no answer).
        framework_routes_last(fastapi.router.routes, framework_routes)
        mounted = _mount_sub_apps(fastapi, sub_apps, route_owners, self._route_owner, checked)
        for route_id, name in mounted.items():
            owners[route_id] = name
        _check_duplicate_routes(
            fastapi.router.routes, route_owners, self.ctx.instance, _sub_app_keys(sub_apps)
        )
        injected = injection_report(
            checked,
            self.ctx.instances,
            lambda owner, capability: self._route_owner(owner).install_hint(capability),
        )
        for warning in injected.warnings:
            self.ctx.log.warning("http.inject_optional_missing", detail=warning)
        if injected.problems:
            raise CompositionError(injected.problems)

        contributions: list[Contribution] = []
        for name, instance in self.ctx.instances.items():
            assert instance.module is not None
            for spec in instance.module.middleware():
                own_edge = name == self.ctx.instance and spec.name == "edge"
                aliases = EDGE_NAMES[1:] if own_edge else ()
                contributions.append(Contribution(spec, name, aliases))
        # This instance's layers come first, whatever its place in the start order.
        contributions.sort(key=lambda c: c.instance != self.ctx.instance)
        order = order_middleware(contributions)
        for warning in order.warnings:
            self.ctx.log.warning("http.middleware_constraint_ignored", detail=warning)
        asgi: HttpApp = fastapi
        build_problems: list[Problem] = []
        for layer in reversed(order.layers):
            spec = layer.middleware
            try:
                asgi = spec.factory(asgi, **spec.options)
            except Exception as exc:
                build_problems.append(
                    Problem(
                        f"middleware {spec.name!r} could not be built: {type(exc).__name__}: {exc}",
                        instance=layer.instance,
                        key="middleware",
                        fix="check the options its Middleware spec passes to its factory",
                    )
                )
        if build_problems:
            raise CompositionError(build_problems)
        return ComposedApp(
            fastapi, asgi, owners, order.layers, plain_routers, route_owners, sub_apps
        )

    def _route_owner(self, name: str) -> RouteOwner:
        """What the routes of instance ``name`` resolve through (cached per instance)."""
        owner = self._owners.get(name)
        if owner is None:
            instance = self.ctx.instances[name]
            assert instance.module is not None
            owner = self._owners[name] = RouteOwner(
                instance=name,
                services=instance.module.ctx.services,
                settings=instance.settings,
                provides=frozenset(p.capability.name for p in instance.pattern.provisions),
                own=partial(_own_service, self.ctx.app.providers, name),
            )
        return owner

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Compose, run every router's startup (their merged lifespan) and register ``Http``."""
        try:
            composed = self.compose()
        except CompositionError as exc:
            # Served without `rainmaker run` (which composes first and exits 2), the
            # problems must still reach the log in full, not just their count.
            raise StartupError(str(exc), pattern_id=self.ctx.instance, cause=exc) from exc
        stack = AsyncExitStack()
        try:
            state = await stack.enter_async_context(
                composed.fastapi.router.lifespan_context(composed.fastapi)
            )
            if state:
                self._lifespan_state.update(state)
            for router in composed.routers:
                state = await stack.enter_async_context(router.lifespan_context(composed.fastapi))
                if state:
                    self._lifespan_state.update(state)
            for _, _, sub_app in composed.sub_apps:
                # With the app itself: its lifespan sets up its own app.state.
                state = await stack.enter_async_context(sub_app.router.lifespan_context(sub_app))
                if state:
                    self._lifespan_state.update(state)
        except BaseException:
            await stack.aclose()
            raise
        self._lifespans = stack
        # Every request finds its route's owner here (see rainmaker.http.owners).
        self._lifespan_state[STATE_KEY] = composed.route_owners
        self.ctx.services.register(Http, composed.asgi)
        for warning in self.settings.configuration_warnings(self.ctx.env):
            self.ctx.log.warning("http.insecure_setting", detail=warning)
        self.ctx.log.info(
            "http.composed",
            routes=len(composed.owners),
            middleware=[layer.middleware.name for layer in composed.middleware],
        )

    async def stop(self) -> None:
        """Run every router's shutdown, in reverse."""
        stack, self._lifespans = self._lifespans, None
        if stack is not None:
            await stack.aclose()
        self._lifespan_state.clear()

    async def health(self) -> Health:
        """Up once composed; the detail lists the middleware order."""
        if self._composed is None:
            return Health.down(reason="not composed")
        return Health.up(
            routes=len(self._composed.owners),
            middleware=[layer.middleware.name for layer in self._composed.middleware],
        )


def _edge_factory(lifespan_state: dict[str, Any]) -> Any:
    def build(app: HttpApp, **options: Any) -> EdgeMiddleware:
        edge = EdgeMiddleware(app, **options)
        edge.lifespan_state = lifespan_state
        return edge

    return build


def _owner_of(scope: Scope, owners: RouteOwners) -> str | None:
    route = scope.get("route")
    return owners.instance_of(route, scope.get("path")) if route is not None else None


def _own_service(providers: Any, instance: str, capability: Any) -> Any:
    """The service ``instance`` registered for ``capability`` itself, if any."""
    return providers(capability).get(instance)


def _mount_sub_apps(
    fastapi: FastAPI,
    sub_apps: list[tuple[str, str, Starlette]],
    route_owners: RouteOwners,
    route_owner: Any,
    checked: list[RouteDependencies],
) -> dict[int, str]:
    """Mount each app under its prefix and record its routes as its instance's.

    Mounted last, so a root mount (prefix ``""``) only answers what no pattern serves. The
    sub-app's router sets ``scope["route"]`` to its own route objects and its
    ``root_path`` to the prefix, which :class:`RouteOwners` matches below, so its routes
    resolve ``Inject`` and ``CurrentUser`` for their instance; the ``Mount`` itself is
    recorded too (the owner of the app's own 404s). Returns ``id(route) -> instance``.
    """
    owners: dict[int, str] = {}
    mounted_by: dict[int, tuple[str, str]] = {}
    for name, prefix, sub_app in sub_apps:
        # Its routes are matched below the prefix, so one app object under two prefixes
        # would leave a request no way to tell its instance (settings, Inject) apart. (Two
        # apps on one prefix are the duplicate check's: "* /prefix is served by both".)
        first, first_prefix = mounted_by.setdefault(id(sub_app), (name, prefix))
        if first != name and first_prefix != prefix:
            raise CompositionError(
                [
                    Problem(
                        f"{first} and {name} mount the same app object; each request must "
                        "know which instance it belongs to",
                        instance=name,
                        key="app",
                        fix="mount it once, or build one app per instance (a factory)",
                    )
                ]
            )
    answer_pattern_errors = fastapi.exception_handlers[PatternError]
    for name, prefix, sub_app in sub_apps:
        # rainmaker.http's dependencies (CurrentUser, Inject…) raise PatternErrors, which an
        # app written before Rainmaker has no handler for (a 500): answer them as every
        # other route does, problem+json. Its own handlers, for its own errors, stay. A
        # handler left by an earlier composition of the same app object is replaced.
        current = sub_app.exception_handlers.get(PatternError)
        if current is None or current.__module__ == answer_pattern_errors.__module__:
            sub_app.exception_handlers[PatternError] = answer_pattern_errors
            sub_app.middleware_stack = None  # rebuilt with the handler on its next request
        fastapi.mount(prefix, sub_app)
        owner = route_owner(name)
        route_owners.add(fastapi.router.routes[-1], owner)
        for context in iter_route_contexts(sub_app.routes):
            owners[id(context.original_route)] = name
            route_owners.add(context.original_route, owner, getattr(context, "path_regex", None))
            dependant = getattr(context, "dependant", None)
            if isinstance(dependant, Dependant):
                methods = ",".join(sorted(context.methods or ("WS",)))
                checked.append(
                    RouteDependencies(f"{methods} {prefix}{context.path}", name, dependant)
                )
    return owners


def _sub_app_keys(
    sub_apps: list[tuple[str, str, Starlette]],
) -> list[tuple[tuple[str, str], str]]:
    """``((method, full path), instance)`` of every mounted app's routes, for the
    duplicate check: a pattern's route would silently shadow the app's."""
    keys: list[tuple[tuple[str, str], str]] = []
    for name, prefix, sub_app in sub_apps:
        for context in iter_route_contexts(sub_app.routes):
            if context.path is None or isinstance(context.original_route, Mount):
                continue
            path = prefix + context.path
            keys.extend(((m, path), name) for m in sorted(context.methods or ("WS",)))
    return keys


def _check_duplicate_routes(
    routes: list[BaseRoute],
    owners: RouteOwners,
    own: str,
    sub_app_keys: Sequence[tuple[tuple[str, str], str]] = (),
) -> None:
    """Two patterns serving one method and path would shadow each other silently.

    ``sub_app_keys`` are the routes of mounted apps (:func:`_sub_app_keys`), which
    ``routes`` only holds as their ``Mount``.
    """
    found: list[tuple[tuple[str, str], str]] = []
    for context in iter_route_contexts(routes):
        route = context.original_route
        path = context.path
        if path is None:
            continue
        if isinstance(route, Mount):
            keys = [("*", path)]
        else:
            keys = [(method, path) for method in sorted(context.methods or ("WS",))]
        owner = owners.instance_of(route, path) or own
        found.extend((key, owner) for key in keys)
    seen: dict[tuple[str, str], str] = {}
    problems: list[Problem] = []
    for key, owner in [*found, *sub_app_keys]:
        first = seen.setdefault(key, owner)
        if first != owner:
            problems.append(
                Problem(
                    f"{key[0]} {key[1]} is served by both {first} and {owner}",
                    instance=owner,
                    key="mount",
                    fix=f'mount one of them elsewhere, e.g. mount = "/{owner}"',
                )
            )
    if problems:
        raise CompositionError(problems)
