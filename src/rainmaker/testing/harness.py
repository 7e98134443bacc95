"""Test harness: start one pattern, or a whole composition, from Python data.

Three entry points, from the smallest to the largest:

- :func:`build_app` builds an (unstarted) :class:`~rainmaker.Application` from a composition
  given as ``{"instance": {"use": ..., "key": value}}``, with the same validation and
  resolution as ``rainmaker.load``.
- :func:`load_pattern` composes one pattern with what it requires, filling every required
  capability with an embedded default (``Database`` -> ``database-sqlite`` in the test's
  folder, ``Cache`` -> ``cache-memory``, ``Storage`` -> ``storage-local``, ``Mailer`` ->
  ``email-console``, ``Jobs`` -> ``jobs-local``, ``Auth`` -> ``auth-jwt`` with a test-only
  secret, ``Http`` -> ``framework-fastapi`` when the pattern has routes) unless the
  test names real ones, and gives back its module and services::

      async with load_pattern("greeter", {"greeting": "hi"}, root=tmp_path) as loaded:
          assert loaded.module.settings.greeting == "hi"
          async with loaded.client() as http:
              assert (await http.get("/greeter/greet")).json() == {"message": "hi"}

- :func:`compose_for_test` composes several instances with per-test overrides of settings
  and of services (a recording mailer instead of the console one, say). The pytest plugin's
  ``compose`` fixture stops whatever a test composed when the test ends.

:func:`http_client` is an ``httpx.AsyncClient`` bound to an app over ``ASGITransport``: no
socket, no server, the app's real middleware and routes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rainmaker.kernel.application import Application
from rainmaker.kernel.capability import Capability
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import parse_composition
from rainmaker.kernel.loading import assemble
from rainmaker.kernel.module import Module
from rainmaker.kernel.pattern import Pattern, Settings
from rainmaker.kernel.registry import Services

if TYPE_CHECKING:
    import httpx

HTTP_PATTERN = "framework-fastapi"
BASE_URL = "http://testserver"


def toml_value(value: Any) -> str:
    """``value`` (str, number, bool, list or mapping of those) as a TOML literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, Mapping):
        items = ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    if isinstance(value, Iterable):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def composition_text(name: str, patterns: Mapping[str, Mapping[str, Any]]) -> str:
    """A ``rainmaker.toml`` text for an app ``name`` with the given instances."""
    lines = ["[app]", f"name = {toml_value(name)}", ""]
    for instance, settings in patterns.items():
        lines.append(f"[patterns.{instance}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in settings.items())
        lines.append("")
    return "\n".join(lines)


def build_app(
    patterns: Mapping[str, Mapping[str, Any]],
    *,
    root: Path,
    name: str = "test",
    extra_patterns: Iterable[Pattern[Any]] = (),
    environ: Mapping[str, str] | None = None,
) -> Application:
    """An app (not started) composing ``patterns``, with installed plus ``extra_patterns``.

    Raises :class:`~rainmaker.CompositionError` with every problem, like ``load``.
    """
    catalog = Catalog.installed()
    for pattern in extra_patterns:
        catalog.add(pattern, origin="test")
    composition = parse_composition(
        composition_text(name, patterns), root=root, environ=environ or {}
    )
    return assemble(composition, catalog)


# -- embedded defaults ----------------------------------------------------------------------


def default_providers(root: Path) -> dict[str, dict[str, Any]]:
    """The embedded provider of each standard capability, as instance tables under ``root``.

    Every one needs no server; files go below ``root`` (the test's temporary folder).
    """
    return {
        "Database": {"use": "database-sqlite", "path": str(root / "harness.db")},
        "Cache": {"use": "cache-memory"},
        "Storage": {"use": "storage-local", "root": str(root / "storage")},
        "Mailer": {
            "use": "email-console",
            "default_sender": "Harness <harness@example.com>",
            "outbox": str(root / "outbox"),
        },
        "Jobs": {"use": "jobs-local"},
        # auth-jwt is both the embedded and the production provider; the secret is only
        # good for tests, so a pattern that requires Auth passes `pattern test` unaided.
        "Auth": {"use": "auth-jwt", "secret": "harness-only-secret-0123456789abcdef0123"},
        "Http": {"use": HTTP_PATTERN},
    }


def _pattern_of(pattern: str | Pattern[Any], catalog: Catalog) -> Pattern[Any]:
    if isinstance(pattern, Pattern):
        if catalog.get(pattern.id) is not pattern:
            catalog.add(pattern, origin="test")
        return pattern
    found = catalog.get(pattern)
    if found is None:
        problems = "; ".join(p.message for p in catalog.problems_by_id.get(pattern, []))
        raise LookupError(
            f"no installed pattern {pattern!r}"
            + (f" ({problems})" if problems else f"; installed: {', '.join(catalog.ids())}")
        )
    return found


def _fill_requirements(
    instances: dict[str, dict[str, Any]],
    catalog: Catalog,
    defaults: Mapping[str, Mapping[str, Any]],
) -> None:
    """Add a default provider for every required capability no instance provides.

    Works to a fixed point, so a default's own requirements (``jobs-local`` needs a
    ``Database``) are met too.
    """
    while True:
        provided: set[str] = set()
        required: list[str] = []
        for table in instances.values():
            pattern = catalog.get(str(table["use"]))
            if pattern is None:
                continue
            provided.update(p.capability.name for p in pattern.provisions)
            required.extend(r.capability.name for r in pattern.requirements if not r.optional)
        missing = [name for name in dict.fromkeys(required) if name not in provided]
        fillable = [name for name in missing if name in defaults]
        if not fillable:
            return
        for name in fillable:
            instances[_instance_name(name, instances)] = dict(defaults[name])


def _instance_name(capability: str, taken: Mapping[str, Any]) -> str:
    base = capability.lower()
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    return name


# -- loading one pattern --------------------------------------------------------------------


@dataclass
class LoadedPattern:
    """One pattern composed for a test, with everything it requires.

    Use it as ``async with`` (start, then stop), or call :meth:`start` / :meth:`stop`.
    ``module`` is the pattern's module, ``api`` the typed service registry as the test
    sees it (``loaded.api.require(Cache)``), ``provided`` the services the pattern itself
    registered, by capability name.
    """

    app: Application
    instance: str
    pattern: Pattern[Any]

    @property
    def module(self) -> Module[Any]:
        """The pattern's module (built on first access; started by :meth:`start`)."""
        self.app.build()
        module = self.app.instances[self.instance].module
        assert module is not None
        return module

    @property
    def api(self) -> Services:
        """The app's services: ``api.require(Capability)`` returns the running service."""
        return self.app.services

    @property
    def provided(self) -> dict[str, Any]:
        """What the pattern under test registered, by capability name."""
        found = {}
        for provision in self.pattern.provisions:
            service = self.app.registry.providers(provision.capability).get(self.instance)
            if service is not None:
                found[provision.capability.name] = service
        return found

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()

    def client(self, **options: Any) -> httpx.AsyncClient:
        """An HTTP client bound to the app (see :func:`http_client`)."""
        return http_client(self.app, **options)

    async def __aenter__(self) -> LoadedPattern:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


def load_pattern(
    pattern: str | Pattern[Any],
    settings: Mapping[str, Any] | None = None,
    *,
    root: Path,
    providers: Mapping[str, Mapping[str, Any]] | None = None,
    http: bool | None = None,
    instance: str | None = None,
    extra_patterns: Iterable[Pattern[Any]] = (),
    name: str = "test",
    catalog: Catalog | None = None,
) -> LoadedPattern:
    """Compose ``pattern`` (an installed id or a :class:`Pattern`) with what it requires.

    ``settings`` are the pattern's own settings. ``providers`` names real providers by
    capability (``{"Database": {"use": "database-postgres", "url": ...}}``); every other
    required capability gets its embedded default (:func:`default_providers`). ``http``
    adds ``framework-fastapi``: ``None`` adds it when the pattern's module has a router.
    Nothing starts until :meth:`LoadedPattern.start` (or ``async with``).
    """
    catalog = catalog if catalog is not None else Catalog.installed()
    for extra in extra_patterns:
        catalog.add(extra, origin="test")
    target = _pattern_of(pattern, catalog)
    instance = instance or target.id.replace("-", "_")
    defaults = default_providers(root)
    defaults.update({cap: dict(table) for cap, table in (providers or {}).items()})
    instances: dict[str, dict[str, Any]] = {instance: {"use": target.id, **(settings or {})}}
    for capability, table in (providers or {}).items():
        if any(r.capability.name == capability for r in target.requirements):
            instances[_instance_name(capability, instances)] = dict(table)
    _fill_requirements(instances, catalog, defaults)

    app = _assemble(instances, root, name, catalog)
    provides_http = any(p.capability.name == "Http" for p in target.provisions)
    if http is None and not provides_http:
        app.build()  # no I/O: modules are only constructed, so asking for a router is cheap
        module = app.instances[instance].module
        http = module is not None and module.router() is not None
    if http and not provides_http and not _has_provider(instances, "Http", catalog):
        instances[_instance_name("Http", instances)] = dict(defaults["Http"])
        app = _assemble(instances, root, name, catalog)
    return LoadedPattern(app, instance, target)


def _has_provider(
    instances: Mapping[str, Mapping[str, Any]], capability: str, catalog: Catalog
) -> bool:
    for table in instances.values():
        pattern = catalog.get(str(table["use"]))
        if pattern and any(p.capability.name == capability for p in pattern.provisions):
            return True
    return False


def _assemble(
    instances: Mapping[str, Mapping[str, Any]], root: Path, name: str, catalog: Catalog
) -> Application:
    composition = parse_composition(composition_text(name, instances), root=root, environ={})
    return assemble(composition, catalog)


# -- composing for a test -------------------------------------------------------------------


class _DoubleSettings(Settings):
    """A test double has no settings."""


class _DoubleModule(Module[_DoubleSettings]):
    """Registers the service objects a test handed to :func:`compose_for_test`."""

    services: Mapping[Capability[Any], Any] = {}

    async def start(self) -> None:
        for key, service in self.services.items():
            self.ctx.services.register(key, service)


def _double_pattern(pattern_id: str, services: Mapping[Capability[Any], Any]) -> Pattern[Any]:
    def factory(settings: _DoubleSettings, ctx: Any) -> _DoubleModule:
        module = _DoubleModule(settings, ctx)
        module.services = services
        return module

    return Pattern(
        id=pattern_id,
        version="0.0.0",
        name="Test double",
        settings=_DoubleSettings,
        factory=factory,
        provides=list(services),
    )


@dataclass
class TestComposition:
    """What :func:`compose_for_test` returns: the app and the overrides applied to it."""

    __test__ = False  # not a pytest test class, despite the name

    app: Application
    overridden: dict[str, list[str]] = field(default_factory=dict)
    """Capability name -> the instances whose registration was replaced by a test double."""

    def client(self, **options: Any) -> httpx.AsyncClient:
        return http_client(self.app, **options)

    async def __aenter__(self) -> Application:
        await self.app.start()
        return self.app

    async def __aexit__(self, *_exc: object) -> None:
        await self.app.stop()


def compose_for_test(
    patterns: Mapping[str, Mapping[str, Any]],
    *,
    root: Path,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    services: Mapping[Capability[Any], Any] | None = None,
    name: str = "test",
    extra_patterns: Iterable[Pattern[Any]] = (),
    environ: Mapping[str, str] | None = None,
) -> TestComposition:
    """A composition with this test's overrides (the app is built, not started).

    ``settings`` merges ``{"instance": {"key": value}}`` over ``patterns``. ``services``
    replaces what an instance registers for a capability by the given object as soon as
    that instance has started (so dependants starting later get the double); when no
    instance provides the capability, a test-double instance provides it. Nothing is
    changed outside the returned app, so nothing needs undoing but stopping it, which the
    plugin's ``compose`` fixture does when the test ends.
    """
    merged = {instance: dict(table) for instance, table in patterns.items()}
    for instance, overrides in (settings or {}).items():
        if instance not in merged:
            raise KeyError(f"settings override for {instance!r}, which is not composed")
        merged[instance].update(overrides)
    extras = list(extra_patterns)
    catalog = Catalog.installed()
    for extra in extras:
        catalog.add(extra, origin="test")
    doubles: dict[Capability[Any], Any] = {}
    replaced: dict[Capability[Any], tuple[Any, list[str]]] = {}
    for key, service in (services or {}).items():
        providers = [
            name_
            for name_, table in merged.items()
            if (p := catalog.get(str(table.get("use")))) is not None
            and any(prov.capability == key for prov in p.provisions)
        ]
        if providers:
            replaced[key] = (service, providers)
        else:
            doubles[key] = service
    if doubles:
        double = _double_pattern("test-double", doubles)
        extras.append(double)
        merged[_instance_name("double", merged)] = {"use": double.id}
    app = build_app(merged, root=root, name=name, extra_patterns=extras, environ=environ)
    app.build()
    for key, (service, instances) in replaced.items():
        for instance_name in instances:
            _replace_after_start(app, instance_name, key, service)
    return TestComposition(app, {key.name: instances for key, (_, instances) in replaced.items()})


def _replace_after_start(
    app: Application, instance: str, key: Capability[Any], service: Any
) -> None:
    module = app.instances[instance].module
    assert module is not None
    original: Callable[[], Any] = module.start

    async def start() -> None:
        await original()
        app.registry.add(key, instance, service)

    # An attribute on this one module object: the pattern's class is untouched.
    module.start = start  # type: ignore[method-assign]


# -- HTTP -----------------------------------------------------------------------------------


def http_client(app: Any, *, base_url: str = BASE_URL, **options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` that sends requests straight into ``app`` (any ASGI app).

    The app must already be started (``ASGITransport`` does not run the ASGI lifespan):
    use it inside ``async with loaded:`` or after ``await app.start()``.
    """
    import httpx  # only tests that speak HTTP need httpx

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, **options)


@asynccontextmanager
async def running_client(app: Application, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Start ``app``, yield a client bound to it, then close the client and stop the app."""
    async with app.running(), http_client(app, **options) as client:
        yield client
