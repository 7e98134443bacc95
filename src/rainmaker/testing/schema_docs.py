"""Which settings a JSON Schema leaves undocumented (no ``description``).

Kept apart from :mod:`rainmaker.testing.conformance` (a pytest suite, which imports pytest)
so that ``rainmaker pattern validate`` and ``publish --skip-tests`` never import pytest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def undocumented_fields(schema: Mapping[str, Any]) -> list[str]:
    """Dotted names of the schema's properties (nested models too) without a description."""
    definitions = schema.get("$defs", {})
    missing: list[str] = []

    def visit(node: Mapping[str, Any], prefix: str, seen: frozenset[str]) -> None:
        for name, prop in node.get("properties", {}).items():
            dotted = f"{prefix}{name}"
            if not prop.get("description"):
                missing.append(dotted)
            for ref in _refs(prop):
                target = ref.rsplit("/", 1)[-1]
                if target in definitions and target not in seen:
                    visit(definitions[target], f"{dotted}.", seen | {target})

    visit(schema, "", frozenset())
    return missing


def _refs(prop: Mapping[str, Any]) -> Iterable[str]:
    if "$ref" in prop:
        yield prop["$ref"]
    for key in ("anyOf", "allOf", "oneOf"):
        for option in prop.get(key, ()):
            yield from _refs(option)
    if isinstance(prop.get("items"), Mapping):
        yield from _refs(prop["items"])
    if isinstance(prop.get("additionalProperties"), Mapping):
        yield from _refs(prop["additionalProperties"])
