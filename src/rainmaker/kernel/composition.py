"""Reading ``rainmaker.toml``: layers, profiles, interpolation and overrides.

Settings are layered, each layer overriding the one before::

    pattern defaults < rainmaker.toml < [profiles.<name>] < RAINMAKER__<INSTANCE>__<KEY> < --set

This module merges the layers into one :class:`Composition` and remembers where every value
came from (``rainmaker config show`` prints it). It knows nothing of patterns: validating
settings against their models is :mod:`rainmaker.kernel.validation`'s job. Every problem
found is collected and raised together in one :class:`CompositionError`.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rainmaker.kernel.errors import CompositionError, Problem
from rainmaker.kernel.suggest import did_you_mean

FILE_NAME = "rainmaker.toml"
DEFAULT_PROFILE = "development"
ENV_PREFIX = "RAINMAKER__"
RESERVED_KEYS = frozenset({"use", "mount", "providers", "enabled"})
INSTANCE_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TOML_POSITION = re.compile(r"at line (\d+), column (\d+)")


class AppConfig(BaseModel):
    """The ``[app]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_-]*$", description="The app's name, bound to every log line."
    )
    start_timeout: float = Field(
        30.0, gt=0, description="Seconds each pattern may take to start before start fails."
    )
    stop_timeout: float = Field(
        30.0, gt=0, description="Seconds each pattern may take to stop before it is abandoned."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="Log renderer; 'auto' is readable on a terminal and JSON otherwise."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level that is logged."
    )
    local_patterns: list[str] = Field(
        default_factory=list,
        description="Patterns defined in the app itself, as 'module:attribute' import paths "
        "relative to the app folder.",
    )


@dataclass
class InstanceConfig:
    """One ``[patterns.<name>]`` table after all layers are merged.

    ``values`` holds the pattern's own settings (reserved keys removed), ``sources`` maps
    each dotted settings key to the layer that set it.
    """

    name: str
    use: str
    values: dict[str, Any]
    sources: dict[str, str]
    mount: str | None = None
    providers: dict[str, str] = field(default_factory=dict)


@dataclass
class Composition:
    """A merged, interpolated composition, not yet checked against any pattern."""

    root: Path
    path: Path | None
    profile: str
    app: AppConfig
    instances: dict[str, InstanceConfig]
    app_sources: dict[str, str] = field(default_factory=dict)
    env_vars: dict[str, str | None] = field(default_factory=dict)
    """Environment variables the file references, with their ``:-`` default if any."""
    problems: list[Problem] = field(default_factory=list)
    """What is wrong in the file itself; validation adds what is wrong against patterns."""
    profiles: list[str] = field(default_factory=list)
    """Every profile the file defines."""


def find_composition(app: str | os.PathLike[str] | None) -> Path:
    """The ``rainmaker.toml`` for ``--app`` (a folder or a file; default: current folder)."""
    path = Path(app) if app is not None else Path.cwd()
    return path / FILE_NAME if path.is_dir() else path


DOTENV = ".env"


def process_environment(root: Path) -> dict[str, str]:
    """The process environment, plus ``<root>/.env`` for the variables it does not set.

    The file holds what a developer keeps out of the repository (``KEY=value`` lines, as
    python-dotenv reads them, ``export`` and quotes included); a variable set in the real
    environment always wins, so a deployment's own values are never overridden by a file.
    """
    file = root / DOTENV
    if not file.is_file():
        return dict(os.environ)
    from dotenv import dotenv_values

    from_file = {k: v for k, v in dotenv_values(file).items() if v is not None}
    return {**from_file, **os.environ}


def read_composition(
    path: str | os.PathLike[str],
    *,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Iterable[str] = (),
) -> Composition:
    """Read, merge and interpolate a composition file.

    ``environ`` defaults to :func:`process_environment` (the environment, plus the app
    folder's ``.env`` for what the environment does not set). A missing file raises
    :class:`CompositionError`; every other problem is collected in
    ``Composition.problems`` so that validation can report it together with its own.
    """
    path = Path(path)
    environ = process_environment(path.parent) if environ is None else environ
    profile = profile or environ.get("RAINMAKER_PROFILE") or DEFAULT_PROFILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CompositionError(
            [
                Problem(
                    f"no composition file at {path}",
                    fix="pass --app PATH pointing at a folder with rainmaker.toml, "
                    "or create one with `rainmaker new NAME`",
                )
            ]
        ) from None
    return parse_composition(
        text, root=path.parent, path=path, profile=profile, environ=environ, overrides=overrides
    )


def parse_composition(
    text: str,
    *,
    root: Path,
    path: Path | None = None,
    profile: str = DEFAULT_PROFILE,
    environ: Mapping[str, str] | None = None,
    overrides: Iterable[str] = (),
) -> Composition:
    """Merge the layers of a composition given as TOML text (see the module docstring).

    Problems are collected in ``Composition.problems``, not raised.
    """
    environ = os.environ if environ is None else environ
    builder = _Builder(path.name if path else FILE_NAME, environ)
    data = builder.parse_toml(text)
    builder.build(data, profile, overrides)
    return Composition(
        root=root,
        path=path,
        profile=profile,
        app=builder.app,
        instances=builder.instances,
        app_sources=builder.app_sources,
        env_vars=builder.env_vars,
        problems=builder.problems,
        profiles=sorted(data.get("profiles", {})) if isinstance(data.get("profiles"), dict) else [],
    )


class _Builder:
    """Accumulates merged tables, sources and problems while the layers are applied."""

    def __init__(self, file_label: str, environ: Mapping[str, str]) -> None:
        self.file_label = file_label
        self.environ = environ
        self.problems: list[Problem] = []
        self.env_vars: dict[str, str | None] = {}
        self.raw_app: dict[str, Any] = {}
        self.app_sources: dict[str, str] = {}
        self.raw: dict[str, dict[str, Any]] = {}
        self.sources: dict[str, dict[str, str]] = {}
        self.instances: dict[str, InstanceConfig] = {}
        self.app = AppConfig.model_construct(name="invalid")

    # -- parsing ---------------------------------------------------------------------------

    def parse_toml(self, text: str) -> dict[str, Any]:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            fix = "correct the TOML syntax at that position"
            position = _TOML_POSITION.search(message)
            if position:
                line_no = int(position.group(1))
                lines = text.splitlines()
                if 0 < line_no <= len(lines):
                    fix += f"; the line reads: {lines[line_no - 1].strip()!r}"
            if "Cannot declare" in message:
                fix = "each [patterns.<instance>] table may appear once: rename or merge one"
            self.problems.append(
                Problem(f"{self.file_label} is not valid TOML: {message}", fix=fix)
            )
            return {}

    # -- layering --------------------------------------------------------------------------

    def build(self, data: dict[str, Any], profile: str, overrides: Iterable[str]) -> None:
        if not data and self.problems:
            return  # the TOML did not parse; anything more would be noise
        unknown_top = set(data) - {"app", "patterns", "profiles"}
        for key in sorted(unknown_top):
            self.problems.append(
                Problem(
                    f"unknown top-level table [{key}]",
                    fix=did_you_mean(key, ["app", "patterns", "profiles"])
                    or "use [app], [patterns.<instance>] and [profiles.<name>]",
                )
            )
        self._merge_app(self._table(data, "app", "[app]"), self.file_label)
        patterns = self._table(data, "patterns", "[patterns]")
        if not patterns:
            self.problems.append(
                Problem(
                    "the composition has no [patterns.<instance>] table",
                    fix='add one, e.g. [patterns.db] with use = "database-sqlite"',
                )
            )
        self._check_instance_names(patterns)
        for name, table in patterns.items():
            if isinstance(table, dict):
                self._merge_instance(name, table, self.file_label, replace=True)
            else:
                self.problems.append(
                    Problem(
                        f"patterns.{name} must be a table",
                        instance=name,
                        fix=f"write [patterns.{name}]",
                    )
                )
        self._apply_profile(self._table(data, "profiles", "[profiles]"), profile)
        self._apply_environment()
        self._apply_overrides(overrides)
        self._finish()

    def _table(self, data: Mapping[str, Any], key: str, label: str) -> dict[str, Any]:
        value = data.get(key, {})
        if isinstance(value, dict):
            return value
        self.problems.append(
            Problem(f"{label} must be a table", key=key, fix=f"write {label} as a table")
        )
        return {}

    def _check_instance_names(self, patterns: Mapping[str, Any]) -> None:
        seen: dict[str, str] = {}
        for name in patterns:
            if not INSTANCE_NAME.match(name) or name == "app":
                self.problems.append(
                    Problem(
                        f"invalid instance name {name!r}",
                        instance=name,
                        fix="use lowercase letters, digits, '-' and '_', starting with a letter "
                        "('app' is reserved)",
                    )
                )
            key = env_name(name)
            if key in seen:
                self.problems.append(
                    Problem(
                        f"duplicate instance names: {seen[key]!r} and {name!r} are the same "
                        f"instance for environment overrides (RAINMAKER__{key}__…)",
                        instance=name,
                        fix="rename one of them",
                    )
                )
            seen[key] = name

    def _merge_app(self, table: Mapping[str, Any], source: str) -> None:
        for key, value in table.items():
            self.raw_app[key] = self._interpolate(value, "app", key)
            self.app_sources[key] = source

    def _merge_instance(
        self, name: str, table: Mapping[str, Any], source: str, *, replace: bool
    ) -> None:
        if replace or name not in self.raw:
            if name in self.raw:
                # A profile switching the pattern drops the base table, so a variable only
                # the dropped table read (a development-only secret) is not missing.
                self.problems = [
                    p for p in self.problems if not (p.instance == name and p.key in self.raw[name])
                ]
            self.raw[name] = {}
            self.sources[name] = {}
        target = self.raw[name]
        for key, value in table.items():
            value = self._interpolate(value, name, key)
            _deep_set(target, [key], value)
            for dotted in _flatten(key, value):
                self.sources[name][dotted] = source

    def _apply_profile(self, profiles: Mapping[str, Any], profile: str) -> None:
        if profile not in profiles:
            if profile != DEFAULT_PROFILE:
                known = sorted(profiles)
                self.problems.append(
                    Problem(
                        f"no profile named {profile!r}",
                        key=f"profiles.{profile}",
                        fix=(f"choose one of: {', '.join(known)}" if known else "define ")
                        + ("" if known else f"[profiles.{profile}.patterns.<instance>]"),
                    )
                )
            return
        body = profiles[profile]
        if not isinstance(body, dict):
            self.problems.append(
                Problem(f"profiles.{profile} must be a table", key=f"profiles.{profile}")
            )
            return
        source = f"profile {profile}"
        self._merge_app(self._table(body, "app", f"[profiles.{profile}.app]"), source)
        for name, table in self._table(body, "patterns", f"[profiles.{profile}.patterns]").items():
            if not isinstance(table, dict):
                self.problems.append(
                    Problem(f"profiles.{profile}.patterns.{name} must be a table", instance=name)
                )
                continue
            # A profile that switches the pattern replaces the table: the base settings
            # belong to the other pattern and would be unknown keys here.
            switches = "use" in table and table["use"] != self.raw.get(name, {}).get("use")
            self._merge_instance(name, table, source, replace=switches)

    def _apply_environment(self) -> None:
        by_env_name = {env_name(name): name for name in self.raw}
        for variable, value in sorted(self.environ.items()):
            if not variable.startswith(ENV_PREFIX):
                continue
            parts = variable[len(ENV_PREFIX) :].split("__")
            if len(parts) < 2 or not all(parts):
                self.problems.append(
                    Problem(
                        f"environment variable {variable} does not name an instance and a key",
                        fix="use RAINMAKER__<INSTANCE>__<KEY>, e.g. RAINMAKER__DB__PATH",
                    )
                )
                continue
            target, *path = parts
            keys = [part.lower() for part in path]
            parsed = _parse_env_value(value)
            if target.upper() == "APP":
                self.raw_app[keys[0]] = parsed
                self.app_sources[keys[0]] = f"env {variable}"
                continue
            instance = by_env_name.get(target.upper())
            if instance is None:
                self.problems.append(
                    Problem(
                        f"environment variable {variable} names no instance {target.lower()!r}",
                        fix=did_you_mean(target.lower(), list(self.raw))
                        or f"instances are: {', '.join(sorted(self.raw))}",
                    )
                )
                continue
            _deep_set(self.raw[instance], keys, parsed)
            self.sources[instance][".".join(keys)] = f"env {variable}"

    def _apply_overrides(self, overrides: Iterable[str]) -> None:
        for item in overrides:
            dotted, sep, raw_value = item.partition("=")
            parts = dotted.strip().split(".")
            if not sep or len(parts) < 2 or not all(parts):
                self.problems.append(
                    Problem(
                        f"--set {item!r} is not instance.key=value",
                        fix="write e.g. --set db.path=./other.db",
                    )
                )
                continue
            target, *keys = parts
            value = _parse_literal(raw_value.strip())
            if target == "app":
                self.raw_app[keys[0]] = value
                self.app_sources[keys[0]] = "--set"
            elif target in self.raw:
                _deep_set(self.raw[target], keys, value)
                self.sources[target][".".join(keys)] = "--set"
            else:
                self.problems.append(
                    Problem(
                        f"--set {item!r} names no instance {target!r}",
                        instance=target,
                        fix=did_you_mean(target, list(self.raw))
                        or f"instances are: {', '.join(sorted(self.raw))}",
                    )
                )

    def _finish(self) -> None:
        try:
            self.app = AppConfig.model_validate(self.raw_app)
        except ValidationError as exc:
            for error in exc.errors():
                key = ".".join(str(part) for part in error["loc"])
                fix = 'add name = "<your app>" under [app]' if error["type"] == "missing" else ""
                if error["type"] == "extra_forbidden":
                    fix = did_you_mean(key, list(AppConfig.model_fields)) or "remove it"
                self.problems.append(Problem(error["msg"], instance="app", key=key, fix=fix))
        for name, table in self.raw.items():
            use = table.pop("use", None)
            mount = table.pop("mount", None)
            providers = table.pop("providers", {})
            enabled = table.pop("enabled", True)
            sources = {
                k: v for k, v in self.sources[name].items() if k.split(".")[0] not in RESERVED_KEYS
            }
            if not isinstance(enabled, bool):
                self.problems.append(
                    Problem(
                        f"enabled must be true or false, not {enabled!r}",
                        instance=name,
                        key="enabled",
                        fix=f"write enabled = false under [patterns.{name}] to leave it out",
                    )
                )
                continue
            if enabled is False:
                continue
            if not isinstance(use, str) or not use:
                self.problems.append(
                    Problem(
                        "missing the pattern to use",
                        instance=name,
                        key="use",
                        fix=f'add use = "<pattern id>" under [patterns.{name}] '
                        "(`rainmaker patterns` lists them)",
                    )
                )
                continue
            if mount is not None and (not isinstance(mount, str) or not mount.startswith("/")):
                self.problems.append(
                    Problem(
                        "mount must be a path starting with '/'",
                        instance=name,
                        key="mount",
                        value=repr(mount),
                        fix='write e.g. mount = "/api/auth"',
                    )
                )
                mount = None
            if not isinstance(providers, dict) or not all(
                isinstance(v, str) for v in providers.values()
            ):
                self.problems.append(
                    Problem(
                        "providers must map capability names to instance names",
                        instance=name,
                        key="providers",
                        fix='write e.g. providers = { Database = "db" }',
                    )
                )
                providers = {}
            self.instances[name] = InstanceConfig(
                name=name, use=use, values=table, sources=sources, mount=mount, providers=providers
            )

    # -- interpolation ---------------------------------------------------------------------

    def _interpolate(self, value: Any, instance: str, key: str) -> Any:
        if isinstance(value, str):
            return _INTERPOLATION.sub(lambda m: self._substitute(m, instance, key), value)
        if isinstance(value, list):
            return [self._interpolate(item, instance, key) for item in value]
        if isinstance(value, dict):
            return {k: self._interpolate(v, instance, f"{key}.{k}") for k, v in value.items()}
        return value

    def _substitute(self, match: re.Match[str], instance: str, key: str) -> str:
        if match.group(0) == "$$":
            return "$"
        variable, default = match.group(1), match.group(2)
        self.env_vars.setdefault(variable, default)
        if variable in self.environ:
            return self.environ[variable]
        if default is not None:
            return default
        self.problems.append(
            Problem(
                f"environment variable {variable} is not set",
                instance=instance,
                key=key,
                fix=f"export {variable}=..., or write ${{{variable}:-default}} to give a default",
            )
        )
        return ""


def env_name(instance: str) -> str:
    """How an instance is spelled in RAINMAKER__<INSTANCE>__<KEY> variables."""
    return instance.upper().replace("-", "_")


def _deep_set(target: dict[str, Any], keys: list[str], value: Any) -> None:
    """Set ``target[k1][k2]… = value``, merging tables instead of replacing them."""
    for key in keys[:-1]:
        nested = target.get(key)
        if not isinstance(nested, dict):
            nested = target[key] = {}
        target = nested
    last = keys[-1]
    if isinstance(value, dict) and isinstance(target.get(last), dict):
        for sub_key, sub_value in value.items():
            _deep_set(target[last], [sub_key], sub_value)
    else:
        target[last] = value


def _flatten(prefix: str, value: Any) -> Iterable[str]:
    """Dotted keys of every leaf under ``prefix``."""
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            yield from _flatten(f"{prefix}.{key}", sub)
    else:
        yield prefix


def _parse_env_value(value: str) -> Any:
    """Environment values are strings; JSON arrays and objects are decoded for list settings."""
    stripped = value.strip()
    if stripped[:1] in "[{":
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return value
    return value


def _parse_literal(raw: str) -> Any:
    """A ``--set`` value: a TOML literal when it parses as one (5, true, [1, 2]), else a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
