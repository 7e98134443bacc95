"""What a deployment of one composition needs, read from the composition alone.

The composition is read twice without the caller's environment: first to learn which
``${VAR}`` each setting references, then with a *placeholder* per variable (the value the
pattern's own examples give for that setting, so URLs still validate). The real values
come at run time from the Secret, the ConfigMap or the compose file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import Composition, env_name, find_composition
from rainmaker.kernel.composition import parse_composition as parse
from rainmaker.kernel.errors import CompositionError, Problem
from rainmaker.kernel.loading import assemble
from rainmaker.kernel.secrets import secret_fields

PORT = 8000
# Seconds beyond a drain bound before the kubelet sends SIGKILL: modules still stop.
GRACE_MARGIN = 15
WORKER_METRICS_PORT = 9464
"""The worker's metrics and health port in rendered deployments when the composition sets
none (the port OpenTelemetry's Prometheus exporter uses)."""

# The extra of rainmaker-patterns each built-in pattern needs.
EXTRAS = {
    "framework-fastapi": "http",
    "database-sqlite": "database",
    "database-postgres": "postgres",
    "cache-redis": "redis",
    "storage-s3": "s3",
    "email-console": "email",
    "email-smtp": "smtp",
    "auth-jwt": "auth",
    "dev-dashboard": "dashboard",
    "observability": "observability",
    "payment-local": "payments",
    "payment-stripe": "stripe",
    "jobs-local": "jobs",
    "jobs-redis": "jobs-redis",
    "jobs-rabbitmq": "jobs-rabbitmq",
}

# The server each pattern talks to (compose runs one of each).
SERVERS = {
    "database-postgres": "postgres",
    "cache-redis": "redis",
    "jobs-redis": "redis",
    "jobs-rabbitmq": "rabbitmq",
    "storage-s3": "s3",
    "email-smtp": "smtp",
}

_MISSING = re.compile(r"environment variable (\w+) is not set")


@dataclass(frozen=True)
class EnvVar:
    """One environment variable of the deployment."""

    name: str
    value: str
    secret: bool
    why: str


@dataclass
class DeploymentPlan:
    """What the generators need (see the module docstring)."""

    app: str
    profile: str
    root: Path
    extras: list[str]
    servers: list[str]
    http_instance: str | None
    health_path: str
    drain_bound: float
    jobs_instance: str | None
    worker_drain_bound: float
    migrates: bool
    auto_migrating: list[str] = field(default_factory=list)
    """Database instances with an ``auto_migrate`` setting (the long-running processes
    get it switched off: the migration Job or service migrates, once)."""
    config: list[EnvVar] = field(default_factory=list)
    secrets: list[EnvVar] = field(default_factory=list)
    variables: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """``${VAR}`` without a default -> (instance, pattern id, setting) that references it."""
    metrics_path: str | None = None
    """Where Prometheus scrapes the web process (``None``: no metrics are composed)."""
    metrics_instance: str | None = None
    worker_metrics_port: int | None = None
    """The port on which the worker serves ``/metrics`` and ``/health/*`` (``None``: no
    metrics or no worker). Scraped and probed there."""

    @property
    def worker_metrics_env(self) -> dict[str, str]:
        """Environment for the worker: serve metrics and health on its port, on every
        interface of the container (the composition's own port wins when it sets one)."""
        if self.worker_metrics_port is None or self.metrics_instance is None:
            return {}
        prefix = f"RAINMAKER__{env_name(self.metrics_instance)}__METRICS"
        return {
            f"{prefix}__WORKER_PORT": str(self.worker_metrics_port),
            f"{prefix}__WORKER_HOST": "0.0.0.0",  # noqa: S104 - a container: its own interfaces
        }

    @property
    def slug(self) -> str:
        """The app's name as a DNS label (Kubernetes names, compose project)."""
        slug = re.sub(r"[^a-z0-9-]+", "-", self.app.lower()).strip("-")
        return slug or "app"

    @property
    def no_auto_migrate(self) -> dict[str, str]:
        """Environment for web and worker processes: ``auto_migrate`` off on every database.

        Migrations run in one place (the Job, the compose ``migrate`` service); replicas
        starting together would otherwise all migrate too, waiting on each other's lock.
        """
        return {
            f"RAINMAKER__{env_name(name)}__AUTO_MIGRATE": "false" for name in self.auto_migrating
        }

    @property
    def grace_period(self) -> int:
        """Web pods' terminationGracePeriodSeconds: the HTTP drain bound plus a margin."""
        return math.ceil(self.drain_bound) + GRACE_MARGIN

    @property
    def worker_grace_period(self) -> int:
        """Worker pods' terminationGracePeriodSeconds: the worker drain bound plus a margin."""
        return math.ceil(self.worker_drain_bound) + GRACE_MARGIN


def plan_deployment(app: str | Path, *, profile: str = "production") -> DeploymentPlan:
    """Read the composition at ``app`` (a folder or its ``rainmaker.toml``) for ``profile``."""
    path = find_composition(app)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CompositionError(
            [Problem(f"no composition file at {path}", fix="pass --app PATH to an app folder")]
        ) from None
    catalog = Catalog.installed()
    first = parse(text, root=path.parent, path=path, profile=profile, environ={})
    catalog.add_local(first.app.local_patterns, first.root)
    placeholders, referenced = _placeholders(first, catalog)
    composition = parse(text, root=path.parent, path=path, profile=profile, environ=placeholders)
    application = assemble(composition, catalog)
    instances = list(application.instances.values())

    pattern_ids = [instance.pattern.id for instance in instances]
    extras = sorted({EXTRAS[p] for p in pattern_ids if p in EXTRAS})
    servers = sorted({SERVERS[p] for p in pattern_ids if p in SERVERS})
    http = next((i for i in instances if i.pattern.id == "framework-fastapi"), None)
    health_path, drain = "/health", 35.0
    if http is not None:
        settings: Any = http.settings
        health_path = f"{http.prefix}{settings.health.path}"
        drain = float(settings.shutdown.delay + settings.shutdown.timeout)
    jobs = next((i for i in instances if i.pattern.id.startswith("jobs-")), None)
    worker_drain = float(getattr(jobs.settings, "drain_timeout", 0.0)) if jobs else 0.0
    migrates = any(i.pattern.id.startswith("database-") for i in instances)
    observability = next((i for i in instances if i.pattern.id == "observability"), None)
    metrics: Any = getattr(observability.settings, "metrics", None) if observability else None
    if metrics is not None and not metrics.enabled:
        metrics = None

    plan = DeploymentPlan(
        app=composition.app.name,
        profile=profile,
        root=composition.root,
        extras=extras,
        servers=servers,
        http_instance=http.name if http else None,
        health_path=health_path,
        drain_bound=drain,
        jobs_instance=jobs.name if jobs else None,
        worker_drain_bound=worker_drain,
        migrates=migrates,
        auto_migrating=[
            i.name
            for i in instances
            if i.pattern.id.startswith("database-") and hasattr(i.settings, "auto_migrate")
        ],
        variables=referenced,
        metrics_path=f"{observability.prefix}{metrics.path}" if observability and metrics else None,
        metrics_instance=observability.name if observability and metrics else None,
        worker_metrics_port=(metrics.worker_port or WORKER_METRICS_PORT)
        if metrics is not None and jobs is not None
        else None,
    )
    plan.config.append(EnvVar("RAINMAKER_PROFILE", profile, False, "the profile"))
    sources = {c.name: c.sources for c in composition.instances.values()}
    interpolated, used_variables = _interpolated_keys(text, profile)
    for instance in instances:
        secret_keys = secret_fields(type(instance.settings))
        from_variables = {key for inst, key in _variable_keys(first) if inst == instance.name}
        for key in sorted(secret_keys):
            if key in from_variables:
                continue  # its ${VAR} is in the Secret
            required = instance.pattern.settings.model_fields[key].is_required()
            if required or getattr(instance.settings, key) not in (None, "", {}, []):
                plan.secrets.append(
                    EnvVar(
                        f"RAINMAKER__{env_name(instance.name)}__{key.upper()}",
                        "",
                        True,
                        f"secret setting {instance.name}.{key}",
                    )
                )
        for dotted in sorted({_env_safe(d) for d in sources.get(instance.name, {})}):
            top = dotted.split(".")[0]
            if top in secret_keys or top in from_variables:
                continue
            if (instance.name, dotted) in interpolated:
                continue  # its ${VAR:-default} is rendered: the operator sets that variable
            value = _dotted(instance.settings, dotted)
            if value is _ABSENT:
                continue
            name = "__".join(part.upper() for part in dotted.split("."))
            plan.config.append(
                EnvVar(
                    f"RAINMAKER__{env_name(instance.name)}__{name}",
                    _env_text(value),
                    False,
                    f"setting {instance.name}.{dotted}",
                )
            )
    for variable, default in sorted(composition.env_vars.items()):
        if variable not in used_variables:
            continue  # only another profile reads it (the development database path)
        where = referenced.get(variable)
        why = f"${{{variable}}} in {where[0]}" if where else f"${{{variable}}}"
        # Referenced without a default somewhere (the profile's `${JWT_SECRET}`): it must
        # be supplied, even when the base section gives a development default.
        feeds_secret = any(
            key.split(".")[0] in secret_fields(type(application.instances[inst].settings))
            for inst, key in used_variables[variable]
            if inst in application.instances
        )
        if default is None or variable in referenced or feeds_secret:
            plan.secrets.append(EnvVar(variable, "", True, why))
        else:
            plan.config.append(EnvVar(variable, default, False, why))
    return plan


def _placeholders(
    composition: Composition, catalog: Catalog
) -> tuple[dict[str, str], dict[str, tuple[str, str, str]]]:
    """A valid stand-in for each unset variable, and where each one is referenced."""
    uses = {c.name: c.use for c in composition.instances.values()}
    placeholders: dict[str, str] = {}
    referenced: dict[str, tuple[str, str, str]] = {}
    for problem in composition.problems:
        match = _MISSING.fullmatch(problem.message)
        if match is None:
            continue
        variable = match.group(1)
        pattern = catalog.get(uses.get(problem.instance, ""))
        referenced.setdefault(
            variable,
            (problem.instance, pattern.id if pattern else "", problem.key.split(".")[0]),
        )
        placeholders.setdefault(variable, _example_value(pattern, problem.key))
    return placeholders, referenced


def _variable_keys(composition: Composition) -> Iterator[tuple[str, str]]:
    for problem in composition.problems:
        if _MISSING.fullmatch(problem.message):
            yield problem.instance, problem.key.split(".")[0]


def _example_value(pattern: Any, key: str) -> str:
    """What the pattern's examples (or the field's) give for ``key``, else a plain word."""
    if pattern is not None:
        for example in pattern.examples:
            value: Any = example
            for part in key.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            if isinstance(value, str) and "${" not in value:
                return value
            # An example's own default stands in too (the auth secret's is long enough).
            default = _EXAMPLE_DEFAULT.fullmatch(value) if isinstance(value, str) else None
            if default is not None:
                return default.group(1)
        info = pattern.settings.model_fields.get(key.split(".")[0])
        for value in getattr(info, "examples", None) or ():
            if isinstance(value, str) and "${" not in value:
                return value
    return PLACEHOLDER


PLACEHOLDER = "placeholder-value"
_EXAMPLE_DEFAULT = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}$]+)\}")


_ABSENT = object()
_ENV_KEY = re.compile(r"[a-z0-9_]+")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _env_safe(dotted: str) -> str:
    """The deepest part of ``dotted`` the environment layer can name.

    ``RAINMAKER__X__KEY__SUB`` is lower-cased part by part and Kubernetes keys allow no
    ``:``, so a table keyed ``"projects:write"`` (or ``"Pro"``) is set whole, as JSON.
    """
    parts = dotted.split(".")
    for index, part in enumerate(parts):
        if index and not _ENV_KEY.fullmatch(part):
            return ".".join(parts[:index])
    return dotted


def _interpolated_keys(
    text: str, profile: str
) -> tuple[set[tuple[str, str]], dict[str, set[tuple[str, str]]]]:
    """(instance, dotted key) of every setting whose effective file value uses ``${VAR}``,
    and the variables the profile's effective values use, with the settings they feed.

    Those settings are not rendered as ``RAINMAKER__…`` values (which would win over the
    variable, so that changing ``SMTP_PORT`` in the ConfigMap would do nothing): their
    variables are, and only those (not the development profile's ``SAAS_DB_PATH``).
    """
    import tomllib

    raw = tomllib.loads(text)
    chosen = raw.get("profiles", {}).get(profile, {})
    effective: dict[tuple[str, str], Any] = {}
    for layer in (raw.get("patterns", {}), chosen.get("patterns", {})):
        for instance, table in layer.items():
            if not isinstance(table, Mapping):
                continue
            if "use" in table and table["use"] != raw.get("patterns", {}).get(instance, {}).get(
                "use"
            ):  # a profile switching the pattern replaces the table (as the kernel does)
                effective = {k: v for k, v in effective.items() if k[0] != instance}
            for dotted, value in _leaves(table):
                effective[(instance, dotted)] = value
    for layer in (raw.get("app", {}), chosen.get("app", {})):
        for dotted, value in _leaves(layer):
            effective[("app", dotted)] = value
    found: set[tuple[str, str]] = set()
    variables: dict[str, set[tuple[str, str]]] = {}
    for (instance, dotted), value in effective.items():
        if isinstance(value, str) and "${" in value:
            found.add((instance, dotted))
            found.add((instance, _env_safe(dotted)))
            for variable in _VARIABLE.findall(value):
                variables.setdefault(variable, set()).add((instance, dotted))
    return found, variables


def _leaves(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _leaves(value, f"{dotted}.")
        else:
            yield dotted, value


def _dotted(settings: BaseModel, dotted: str) -> Any:
    value: Any = settings.model_dump(mode="json")
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _env_text(value: Any) -> str:
    """How the environment layer reads ``value`` back: JSON for lists and tables."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    if value is None:
        return ""
    return str(value)
