"""What a release of a pattern package promises: its *pattern manifest*.

``rainmaker pattern publish`` writes ``<dist>-<version>.pattern-manifest.json`` next to each
release in a folder index, and ``rainmaker pattern validate --against`` reads the previous
release's manifest to compare it with the package at hand
(:mod:`rainmaker.testing.compatibility`). Per pattern id it records what apps depend on:

- ``version`` and the settings JSON Schema (``settings``),
- ``provides`` (capability and version) and ``requires`` (capability, optional, range),
- ``migrations``: the Alembic revisions of its branch with their ``down_revision``,
- ``routes``: ``"METHOD /path"`` under the pattern's default prefix.

``migrations`` or ``routes`` is ``None`` (with a note saying why) when it could not be
read here: Alembic is not installed, or the pattern's module cannot be built without
servers. ``None`` means *unknown*, never *none*, so a comparison skips it instead of
reporting everything as dropped. Releases published before manifests existed have only
``<dist>-<version>.settings-schema.json``; :func:`from_settings_schemas` reads those as a
manifest whose other parts are unknown.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rainmaker.kernel.migration_history import migration_history as read_history
from rainmaker.kernel.pattern import Pattern

FORMAT = 1
MANIFEST_SUFFIX = ".pattern-manifest.json"
LEGACY_SCHEMA_SUFFIX = ".settings-schema.json"


class ManifestError(Exception):
    """A manifest file cannot be read; the message names it and says what to do."""


@dataclass(frozen=True)
class Provided:
    """A capability a pattern provides, at a version."""

    capability: str
    version: str


@dataclass(frozen=True)
class Required:
    """A capability a pattern requires: optional or not, within a version range."""

    capability: str
    optional: bool = False
    versions: str = ""


@dataclass(frozen=True)
class Revision:
    """One Alembic revision of a pattern's branch (``down_revision`` ``None``: the base)."""

    revision: str
    down_revision: str | None


@dataclass(frozen=True)
class PatternManifest:
    """What one pattern of a release declares (``None``: unknown, see the notes)."""

    version: str
    settings: dict[str, Any]
    provides: tuple[Provided, ...] | None = ()
    requires: tuple[Required, ...] | None = ()
    migrations: tuple[Revision, ...] | None = ()
    routes: tuple[str, ...] | None = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """A release: its distribution, version and patterns by id."""

    distribution: str
    version: str
    patterns: dict[str, PatternManifest] = field(default_factory=dict)

    def to_json(self) -> str:
        """The manifest file's text (stable: sorted keys, one trailing newline)."""
        data = {
            "format": FORMAT,
            "distribution": self.distribution,
            "version": self.version,
            "patterns": {pid: _pattern_data(p) for pid, p in sorted(self.patterns.items())},
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str) -> Manifest:
        """Parse a manifest file's text; ``source`` names it in errors."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or int(data.get("format", 0)) > FORMAT:
                raise ValueError(f"unknown manifest format {data.get('format')!r}")
            patterns = {
                str(pid): _pattern_from(entry) for pid, entry in dict(data["patterns"]).items()
            }
            return cls(str(data["distribution"]), str(data["version"]), patterns)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ManifestError(
                f"{source} is not a pattern manifest this rainmaker reads ({exc}); upgrade "
                "rainmaker-patterns, or compare against another release"
            ) from None


def _pattern_data(p: PatternManifest) -> dict[str, Any]:
    return {
        "version": p.version,
        "settings": p.settings,
        "provides": None
        if p.provides is None
        else [{"capability": x.capability, "version": x.version} for x in p.provides],
        "requires": None
        if p.requires is None
        else [
            {"capability": x.capability, "optional": x.optional, "versions": x.versions}
            for x in p.requires
        ],
        "migrations": None
        if p.migrations is None
        else [{"revision": r.revision, "down_revision": r.down_revision} for r in p.migrations],
        "routes": None if p.routes is None else list(p.routes),
        "notes": list(p.notes),
    }


def _pattern_from(entry: Mapping[str, Any]) -> PatternManifest:
    provides = entry.get("provides")
    requires = entry.get("requires")
    migrations = entry.get("migrations")
    routes = entry.get("routes")
    return PatternManifest(
        version=str(entry["version"]),
        settings=dict(entry["settings"]),
        provides=None
        if provides is None
        else tuple(Provided(str(x["capability"]), str(x["version"])) for x in provides),
        requires=None
        if requires is None
        else tuple(
            Required(str(x["capability"]), bool(x.get("optional")), str(x.get("versions", "")))
            for x in requires
        ),
        migrations=None
        if migrations is None
        else tuple(
            Revision(
                str(r["revision"]),
                None if r.get("down_revision") is None else str(r["down_revision"]),
            )
            for r in migrations
        ),
        routes=None if routes is None else tuple(str(r) for r in routes),
        notes=tuple(str(n) for n in entry.get("notes", ())),
    )


def from_settings_schemas(distribution: str, version: str, schemas: Mapping[str, Any]) -> Manifest:
    """A manifest from a legacy ``.settings-schema.json``: settings known, the rest unknown."""
    note = "published before pattern manifests: only its settings are known"
    return Manifest(
        distribution,
        version,
        {
            str(pid): PatternManifest(
                version=version,
                settings=dict(schema),
                provides=None,
                requires=None,
                migrations=None,
                routes=None,
                notes=(note,),
            )
            for pid, schema in schemas.items()
        },
    )


# -- building a manifest from the patterns at hand -------------------------------------------


def manifest_of(distribution: str, version: str, patterns: Mapping[str, Pattern[Any]]) -> Manifest:
    """The manifest of a release made of ``patterns`` (they must be importable now)."""
    return Manifest(
        distribution,
        version,
        {pid: pattern_manifest(pattern) for pid, pattern in sorted(patterns.items())},
    )


def pattern_manifest(pattern: Pattern[Any]) -> PatternManifest:
    """What ``pattern`` declares; migrations and routes are read, never run or served."""
    notes: list[str] = []
    migrations, note = migration_history(pattern)
    if note:
        notes.append(note)
    routes, note = declared_routes(pattern)
    if note:
        notes.append(note)
    return PatternManifest(
        version=pattern.version,
        settings=pattern.settings.model_json_schema(),
        provides=tuple(Provided(p.capability.name, str(p.version)) for p in pattern.provisions),
        requires=tuple(
            Required(r.capability.name, r.optional, r.versions) for r in pattern.requirements
        ),
        migrations=migrations,
        routes=routes,
        notes=tuple(notes),
    )


def migration_history(pattern: Pattern[Any]) -> tuple[tuple[Revision, ...] | None, str]:
    """The revisions of ``pattern``'s branch, base first, and a note when unknown."""
    history, problem = read_history(pattern)
    if problem:
        return None, f"migrations unknown: {problem}"
    return tuple(Revision(item.revision, item.down_revision) for item in history), ""


def declared_routes(pattern: Pattern[Any]) -> tuple[tuple[str, ...] | None, str]:
    """``"METHOD /path"`` of every route the pattern's module contributes, and a note.

    The module is *built* (constructed from an example's settings, with the embedded
    default for each capability it requires), never started: nothing is served and no
    server is needed. A pattern whose module cannot be built that way has unknown routes.
    """
    from rainmaker.testing.harness import load_pattern

    examples = [e for e in pattern.examples if "${" not in json.dumps(e, default=str)] or [{}]
    problem = ""
    for example in examples:
        with tempfile.TemporaryDirectory(prefix="rm-manifest-") as folder:
            try:
                loaded = load_pattern(pattern, example, root=Path(folder), http=False)
                loaded.app.build()
                instance = loaded.app.instances[loaded.instance]
                router = instance.module.router() if instance.module is not None else None
            except Exception as exc:  # the author's factory; any failure means "unknown"
                problem = f"{type(exc).__name__}: {exc}".splitlines()[0]
                continue
        routes: set[str] = set()
        for route in getattr(router, "routes", ()):
            methods = sorted(getattr(route, "methods", None) or {"*"})
            path = instance.prefix + str(getattr(route, "path", ""))
            routes.update(f"{method} {path}" for method in methods if method != "HEAD")
        return tuple(sorted(routes)), ""
    return None, (
        f"routes unknown: the module cannot be built from its examples here ({problem}); "
        "they are not compared"
    )
