"""The catalog of installed patterns, discovered through entry points.

Every pattern, built-in or third-party, registers in the ``rainmaker.patterns`` entry-point
group as ``<pattern-id> = "package.module:attribute"``. Loading an entry point imports only
the module that declares the :class:`~rainmaker.kernel.pattern.Pattern` (its settings and
metadata), never the pattern's heavy dependencies.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from rainmaker.kernel.errors import Problem
from rainmaker.kernel.pattern import Pattern

ENTRY_POINT_GROUP = "rainmaker.patterns"
LOCAL = "<local>"  # key of problems with the app's own local_patterns


class Catalog:
    """Patterns by id, plus the problems met while loading them."""

    def __init__(self, patterns: Iterable[Pattern[Any]] = ()) -> None:
        self._patterns: dict[str, Pattern[Any]] = {}
        self.origins: dict[str, str] = {}
        # The distribution that declares each pattern, for install hints.
        self.distributions: dict[str, str] = {}
        self.problems: list[Problem] = []
        # Problems by the pattern id they concern: a broken package only fails the apps
        # that use it.
        self.problems_by_id: dict[str, list[Problem]] = {}
        for pattern in patterns:
            self.add(pattern, origin="code")

    @classmethod
    def installed(cls) -> Catalog:
        """Every pattern registered in the ``rainmaker.patterns`` entry-point group."""
        catalog = cls()
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            origin = f"{entry.dist.name if entry.dist else '?'} ({entry.value})"
            try:
                pattern = entry.load()
            except Exception as exc:  # a broken third-party package must not hide the rest
                catalog._problem(
                    entry.name,
                    Problem(
                        f"pattern entry point {entry.name!r} failed to load: {exc}",
                        fix=f"reinstall or remove the package that declares {entry.value}",
                    ),
                )
                continue
            catalog.add(pattern, origin=origin, declared_id=entry.name)
            if entry.dist is not None:
                catalog.distributions.setdefault(entry.name, entry.dist.name)
        return catalog

    def copy(self) -> Catalog:
        """A catalog with the same patterns and problems, to add to without changing this one."""
        copied = Catalog()
        copied._patterns = dict(self._patterns)
        copied.origins = dict(self.origins)
        copied.distributions = dict(self.distributions)
        copied.problems = list(self.problems)
        copied.problems_by_id = {key: list(value) for key, value in self.problems_by_id.items()}
        return copied

    def add(self, pattern: Any, *, origin: str, declared_id: str | None = None) -> None:
        """Add one pattern; a non-pattern, a mismatched id or a duplicate id is a problem."""
        if not isinstance(pattern, Pattern):
            self._problem(
                declared_id or origin,
                Problem(f"{origin} is not a rainmaker Pattern (got {type(pattern).__name__})"),
            )
            return
        if declared_id is not None and declared_id != pattern.id:
            self._problem(
                declared_id,
                Problem(
                    f"entry point {declared_id!r} loads pattern {pattern.id!r}",
                    fix="name the entry point after the pattern id",
                ),
            )
        if pattern.id in self._patterns and self._patterns[pattern.id] is not pattern:
            self._problem(
                pattern.id,
                Problem(
                    f"pattern id {pattern.id!r} is declared twice: by {self.origins[pattern.id]} "
                    f"and by {origin}",
                    fix="uninstall one of the two packages",
                ),
            )
            return
        self._patterns[pattern.id] = pattern
        self.origins[pattern.id] = origin

    def add_local(self, references: Iterable[str], root: Path) -> None:
        """Import app-local patterns given as ``module:attribute`` relative to ``root``."""
        references = list(references)
        if not references:
            return
        # The app folder stays on sys.path for good, on purpose: a local pattern names more
        # than its own module. Its string factory ("module:attr") is imported when the app
        # is built, its migrations package when `rainmaker db` runs, and its modules import
        # their siblings lazily (at start or on a request), all after this call returns.
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        for reference in references:
            module_name, _, attr = reference.partition(":")
            try:
                pattern = getattr(importlib.import_module(module_name), attr or "pattern")
            except Exception as exc:
                self._problem(
                    LOCAL,
                    Problem(
                        f"local pattern {reference!r} could not be imported: {exc}",
                        instance="app",
                        key="local_patterns",
                        fix="write 'module:attribute', the module importable from the app folder",
                    )
                )
                continue
            self.add(pattern, origin=f"local {reference}")

    def _problem(self, pattern_id: str, problem: Problem) -> None:
        self.problems.append(problem)
        self.problems_by_id.setdefault(pattern_id, []).append(problem)

    def get(self, pattern_id: str) -> Pattern[Any] | None:
        return self._patterns.get(pattern_id)

    def ids(self) -> list[str]:
        return sorted(self._patterns)

    def providers_of(self, capability: str) -> list[str]:
        """Ids of installed patterns that provide ``capability``."""
        return sorted(
            p.id
            for p in self._patterns.values()
            if any(prov.capability.name == capability for prov in p.provisions)
        )

    def __iter__(self) -> Iterator[Pattern[Any]]:
        return iter(sorted(self._patterns.values(), key=lambda p: p.id))

    def __len__(self) -> int:
        return len(self._patterns)
