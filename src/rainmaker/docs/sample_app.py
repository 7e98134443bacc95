"""A throwaway composition around one pattern, so its routes can be read from OpenAPI.

A pattern's routes exist only once its module is built with settings, and its router
only once an HTTP framework composes it. For a pattern the app does not compose, the docs
build a sample app: the pattern with its first example's settings, the first installed
provider of every capability it requires (with their first examples), and an HTTP
framework. Building and composing do no I/O (the module contract), so nothing connects
to any server; ``${VAR}`` references in examples resolve to a placeholder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rainmaker.kernel.application import Application
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import ENV_PREFIX, parse_composition
from rainmaker.kernel.loading import assemble
from rainmaker.kernel.pattern import Pattern
from rainmaker.testing.harness import composition_text

HTTP = "Http"
PLACEHOLDER = "documentation-placeholder-value-0123456789"


class _AnyVariable(Mapping[str, str]):
    """An environment where every ``${VAR}`` is set (to a placeholder long enough for
    secrets' minimum lengths) but that holds no ``RAINMAKER__`` overrides."""

    def __getitem__(self, key: str) -> str:
        if key.startswith(ENV_PREFIX):
            raise KeyError(key)
        return PLACEHOLDER

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and not key.startswith(ENV_PREFIX)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def sample_patterns(
    pattern: Pattern[Any], catalog: Catalog, example: int = 0
) -> dict[str, dict[str, Any]]:
    """Instances (named after their pattern ids) of a composition around ``pattern``,
    which takes its ``example``-th example's settings (the others take their first)."""
    chosen: dict[str, dict[str, Any]] = {}
    provided: set[str] = set()
    pending = [pattern]
    while pending:
        current = pending.pop(0)
        if current.id in chosen:
            continue
        index = example if current is pattern else 0
        settings = current.examples[index] if index < len(current.examples) else {}
        chosen[current.id] = {"use": current.id, **settings}
        provided |= {p.capability.name for p in current.provisions}
        for requirement in current.requirements:
            name = requirement.capability.name
            if requirement.optional or name in provided:
                continue
            providers = [catalog.get(pid) for pid in catalog.providers_of(name)]
            found = next((p for p in providers if p is not None), None)
            if found is not None:
                pending.append(found)
                provided.add(name)
    if HTTP not in provided:
        http = next((catalog.get(pid) for pid in catalog.providers_of(HTTP)), None)
        if http is not None:
            chosen[http.id] = {"use": http.id}
    return chosen


def sample_application(
    pattern: Pattern[Any], catalog: Catalog, example: int = 0
) -> Application:
    """The sample app around ``pattern`` (see :func:`sample_patterns`), built, not started.

    Raises :class:`~rainmaker.CompositionError` (or whatever building raised) when the
    pattern cannot be composed from its examples and the installed providers.
    """
    text = composition_text("sample", sample_patterns(pattern, catalog, example))
    with tempfile.TemporaryDirectory(prefix="rainmaker-docs-") as root:
        composition = parse_composition(text, root=Path(root), environ=_AnyVariable())
        application = assemble(composition, catalog)
        application.build()
    return application
