"""Build an :class:`~rainmaker.Application` from a composition given as Python data.

Tests (and contract suites) describe the app they need as ``{"instance": {"use": ...,
"key": value}}`` instead of writing a ``rainmaker.toml``; the same validation and
resolution as ``rainmaker.load`` apply.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rainmaker.kernel.application import Application
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import parse_composition
from rainmaker.kernel.loading import assemble
from rainmaker.kernel.pattern import Pattern


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
