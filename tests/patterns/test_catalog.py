"""Every installed pattern honours the declarative part of the contract."""

from __future__ import annotations

from typing import Any

import pytest

from rainmaker import Pattern
from rainmaker.kernel.catalog import Catalog

CATALOG = Catalog.installed()


def test_catalog_loads_without_problems() -> None:
    assert CATALOG.problems == []


@pytest.mark.parametrize("pattern", list(CATALOG), ids=lambda p: p.id)
def test_settings_schema_documents_every_field(pattern: Pattern[Any]) -> None:
    schema = pattern.settings.model_json_schema()
    undocumented = [
        name for name, prop in schema.get("properties", {}).items() if not prop.get("description")
    ]
    assert undocumented == [], f"{pattern.id}: add Field(description=...) to {undocumented}"


@pytest.mark.parametrize("pattern", list(CATALOG), ids=lambda p: p.id)
def test_declared_examples_validate(pattern: Pattern[Any]) -> None:
    assert pattern.examples, f"{pattern.id} declares no examples"
    for example in pattern.examples:
        pattern.settings.model_validate(example)


@pytest.mark.parametrize("pattern", list(CATALOG), ids=lambda p: p.id)
def test_factory_is_lazy_and_importable(pattern: Pattern[Any]) -> None:
    # A string factory keeps heavy imports out of `rainmaker patterns`; it must resolve.
    assert isinstance(pattern.factory, str), f"{pattern.id}: give the factory as 'module:Name'"
    module_name, _, attr = pattern.factory.partition(":")
    module = __import__(module_name, fromlist=[attr])
    assert callable(getattr(module, attr))
