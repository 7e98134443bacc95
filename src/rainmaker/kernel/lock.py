"""``rainmaker.lock``: the pattern versions and settings schemas an app was checked with.

The lock records, for every pattern the composition uses (in any profile), its version,
where it was installed from and a hash of its settings' JSON Schema. ``rainmaker check``
compares the lock with what is installed now and reports drift: a pattern upgraded,
downgraded, removed, or whose settings changed shape.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.errors import Problem
from rainmaker.kernel.pattern import Pattern

LOCK_FILE = "rainmaker.lock"
LOCK_FORMAT = 1


def schema_hash(pattern: Pattern[Any]) -> str:
    """SHA-256 of the pattern's settings JSON Schema, canonicalised."""
    schema = pattern.settings.model_json_schema()
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class LockedPattern:
    """One pattern as the lock remembers it."""

    id: str
    version: str
    origin: str
    settings_schema: str


def lock_entries(pattern_ids: set[str], catalog: Catalog) -> dict[str, LockedPattern]:
    """Lock entries for the installed patterns among ``pattern_ids``."""
    entries = {}
    for pattern_id in sorted(pattern_ids):
        pattern = catalog.get(pattern_id)
        if pattern is not None:
            entries[pattern_id] = LockedPattern(
                pattern_id, pattern.version, catalog.origins[pattern_id], schema_hash(pattern)
            )
    return entries


def write_lock(path: Path, app_name: str, entries: dict[str, LockedPattern]) -> None:
    """Write the lock deterministically (sorted keys, trailing newline)."""
    data = {
        "format": LOCK_FORMAT,
        "app": app_name,
        "patterns": {
            e.id: {"version": e.version, "origin": e.origin, "settings_schema": e.settings_schema}
            for e in entries.values()
        },
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_lock(path: Path) -> dict[str, LockedPattern]:
    """The entries of an existing lock file (raises ValueError when it is malformed)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            pattern_id: LockedPattern(
                pattern_id, entry["version"], entry["origin"], entry["settings_schema"]
            )
            for pattern_id, entry in data["patterns"].items()
        }
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a valid lock file: {exc}") from exc


def drift(locked: dict[str, LockedPattern], current: dict[str, LockedPattern]) -> list[Problem]:
    """Problems for every difference between the lock and the installed patterns."""
    fix = "reinstall the locked versions, or run `rainmaker lock` to accept the change"
    problems = []
    for pattern_id in sorted(set(locked) | set(current)):
        old, new = locked.get(pattern_id), current.get(pattern_id)
        if old is None:
            problems.append(
                Problem(f"pattern {pattern_id} is used but not in {LOCK_FILE}", fix=fix)
            )
        elif new is None:
            problems.append(
                Problem(
                    f"pattern {pattern_id} {old.version} is locked but not installed or used",
                    fix=fix,
                )
            )
        elif old.version != new.version:
            problems.append(
                Problem(
                    f"pattern {pattern_id} is locked at {old.version} "
                    f"but {new.version} is installed",
                    fix=fix,
                )
            )
        elif old.settings_schema != new.settings_schema:
            problems.append(
                Problem(
                    f"pattern {pattern_id} {new.version}: "
                    "its settings schema changed since the lock",
                    fix=fix,
                )
            )
    return problems
