"""The catalog of installed patterns, discovered through entry points.

Every pattern, built-in or third-party, registers in the ``rainmaker.patterns`` entry-point
group as ``<pattern-id> = "package.module:attribute"``. Loading an entry point imports only
the module that declares the :class:`~rainmaker.kernel.pattern.Pattern` (its settings and
metadata), never the pattern's heavy dependencies.

The catalog is lazy: :meth:`Catalog.installed` reads the entry points' names and values
without importing anything, and a pattern's module is imported when the pattern is asked
for by id (an app composes it, ``pattern info`` shows it) or when a question needs every
pattern (listing them, the providers of a capability, the ids to suggest for a misspelt
one). An app composing ten of twenty-odd installed patterns imports those ten.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import Distribution, EntryPoint, entry_points
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
        self._problems: list[Problem] = []
        self._problems_by_id: dict[str, list[Problem]] = {}
        # Entry points read but not imported yet, by the id they declare (a list: two
        # packages may declare the same id, which is a problem once it is loaded).
        self._pending: dict[str, list[EntryPoint]] = {}
        # Distribution names, read once per distribution: each read parses its METADATA.
        self._distribution_names: dict[Distribution, str] = {}
        for pattern in patterns:
            self.add(pattern, origin="code")

    @classmethod
    def installed(cls) -> Catalog:
        """Every pattern registered in the ``rainmaker.patterns`` entry-point group.

        Nothing is imported yet: each pattern's module is imported when it is first asked
        about (see the module docstring).
        """
        catalog = cls()
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            catalog._pending.setdefault(entry.name, []).append(entry)
        return catalog

    @property
    def problems(self) -> list[Problem]:
        """Every problem met loading the patterns: imports every pending entry point."""
        self._load_all()
        return self._problems

    @property
    def problems_by_id(self) -> Mapping[str, list[Problem]]:
        """Problems by the pattern id they concern: a broken package only fails the apps
        that use it. Looking up an id imports that id's entry point first."""
        return _ProblemsById(self)

    def copy(self) -> Catalog:
        """A catalog with the same patterns and problems, to add to without changing this one."""
        copied = Catalog()
        copied._patterns = dict(self._patterns)
        copied.origins = dict(self.origins)
        copied.distributions = dict(self.distributions)
        copied._problems = list(self._problems)
        copied._problems_by_id = {key: list(value) for key, value in self._problems_by_id.items()}
        copied._pending = {key: list(value) for key, value in self._pending.items()}
        copied._distribution_names = self._distribution_names
        return copied

    def _load(self, pattern_id: str) -> None:
        """Import the entry points declaring ``pattern_id``, if any is still pending."""
        for entry in self._pending.pop(pattern_id, ()):
            origin = f"{self._distribution_name(entry) or '?'} ({entry.value})"
            try:
                pattern = entry.load()
            except Exception as exc:  # a broken third-party package must not hide the rest
                self._problem(
                    entry.name,
                    Problem(
                        f"pattern entry point {entry.name!r} failed to load: {exc}",
                        fix=f"reinstall or remove the package that declares {entry.value}",
                    ),
                )
                continue
            self.add(pattern, origin=origin, declared_id=entry.name)
            if (distribution := self._distribution_name(entry)) is not None:
                self.distributions.setdefault(entry.name, distribution)

    def _load_all(self) -> None:
        """Import every pending entry point (a question about all patterns)."""
        while self._pending:
            self._load(next(iter(self._pending)))

    def _distribution_name(self, entry: EntryPoint) -> str | None:
        dist = entry.dist
        if dist is None:
            return None
        if dist not in self._distribution_names:
            self._distribution_names[dist] = dist.name
        return self._distribution_names[dist]

    def add(self, pattern: Any, *, origin: str, declared_id: str | None = None) -> None:
        """Add one pattern; a non-pattern, a mismatched id or a duplicate id is a problem."""
        if not isinstance(pattern, Pattern):
            self._problem(
                declared_id or origin,
                Problem(f"{origin} is not a rainmaker Pattern (got {type(pattern).__name__})"),
            )
            return
        # A pending entry point of this id was installed first: load it, so that a second
        # declaration is the duplicate, whichever is asked about first.
        self._load(pattern.id)
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
                    ),
                )
                continue
            self.add(pattern, origin=f"local {reference}")

    def _problem(self, pattern_id: str, problem: Problem) -> None:
        self._problems.append(problem)
        self._problems_by_id.setdefault(pattern_id, []).append(problem)

    def get(self, pattern_id: str) -> Pattern[Any] | None:
        """The pattern with this id, importing its entry point if it is not loaded yet."""
        self._load(pattern_id)
        pattern = self._patterns.get(pattern_id)
        if pattern is None and self._pending:
            # An entry point named otherwise may declare this id (a problem of its own, but
            # the pattern is still there): only every entry point loaded can say no.
            self._load_all()
            pattern = self._patterns.get(pattern_id)
        return pattern

    def ids(self) -> list[str]:
        """Every pattern id (imports every pending entry point)."""
        self._load_all()
        return sorted(self._patterns)

    def providers_of(self, capability: str) -> list[str]:
        """Ids of installed patterns that provide ``capability`` (imports them all)."""
        self._load_all()
        return sorted(
            p.id
            for p in self._patterns.values()
            if any(prov.capability.name == capability for prov in p.provisions)
        )

    def __iter__(self) -> Iterator[Pattern[Any]]:
        self._load_all()
        return iter(sorted(self._patterns.values(), key=lambda p: p.id))

    def __len__(self) -> int:
        self._load_all()
        return len(self._patterns)


class _ProblemsById(Mapping[str, list[Problem]]):
    """The read-only view :attr:`Catalog.problems_by_id` returns: a lookup imports the
    pending entry point of that id, so its problems are known before they are read."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def __getitem__(self, pattern_id: str) -> list[Problem]:
        self._catalog._load(pattern_id)
        return self._catalog._problems_by_id[pattern_id]

    def __iter__(self) -> Iterator[str]:
        self._catalog._load_all()
        return iter(self._catalog._problems_by_id)

    def __len__(self) -> int:
        self._catalog._load_all()
        return len(self._catalog._problems_by_id)
