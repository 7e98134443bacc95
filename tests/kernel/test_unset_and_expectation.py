"""The kernel's one rule for unsetting optional settings (``""``) and the words a wrong
value is answered with, on settings models as patterns write them."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pytest
from pydantic import Field, SecretStr, ValidationError

from rainmaker import Settings
from rainmaker.kernel.display import display
from rainmaker.kernel.setting_schema import expectation


class Inner(Settings):
    retries: int = Field(3, ge=0, le=10)
    label: str | None = "x"


class Outer(Settings):
    password: SecretStr | None = None
    ttl: Annotated[float, Field(gt=0)] | None = 5.0
    name: str = "n"
    mode: str = Field("a", pattern="^[ab]$")
    inner: Inner = Inner()
    expiry: timedelta = timedelta(minutes=15)


def test_an_empty_string_unsets_optional_fields_at_any_depth() -> None:
    settings = Outer.model_validate({"password": "", "ttl": "", "inner": {"label": ""}})
    assert settings.password is None and settings.ttl is None and settings.inner.label is None


def test_a_field_that_cannot_be_none_keeps_its_empty_string() -> None:
    assert Outer.model_validate({"name": ""}).name == ""
    with pytest.raises(ValidationError):
        Outer.model_validate({"mode": ""})


def test_expectations_come_from_the_schema() -> None:
    assert (
        expectation(Outer, "inner.retries") == "expected an integer from 0 to 10, e.g. retries = 3"
    )
    assert expectation(Outer, "mode") == 'expected a string matching ^[ab]$, e.g. mode = "a"'
    assert "duration" in (expectation(Outer, "expiry") or "")
    assert '(or "" to unset it)' in (expectation(Outer, "ttl") or "")
    assert expectation(Outer, "nosuch") is None


def test_display_masks_nested_secrets_by_type_and_keeps_the_rest() -> None:
    assert display(Outer, "password", SecretStr("s3cret")) == "********"
    assert display(Outer, "password", None) == "(not set)"
    assert display(Outer, "inner", Inner(label=None)) == "{ retries = 3 }"
    assert display(Outer, "expiry", timedelta(seconds=1.5)) == "1.5"


def test_a_whole_table_of_raw_input_keeps_its_secrets_masked() -> None:
    # A model-level validation error shows the instance's whole input: field by field.
    shown = display(Outer, "", {"password": "hunter2-raw", "inner": {"retries": 1}, "x": 1})
    assert "hunter2" not in shown
    assert shown == "{ password = ********, inner = { retries = 1 }, x = 1 }"


class Key(Settings):
    kid: str
    secret: SecretStr


class Keyring(Settings):
    keys: list[Key] = []
    by_name: dict[str, Key] = {}


def test_raw_input_in_lists_and_mappings_of_tables_keeps_secrets_masked() -> None:
    raw = [{"kid": "a", "secret": "plain-text-1"}]
    assert display(Keyring, "keys", raw) == '[{ kid = "a", secret = ******** }]'
    assert display(Keyring, "keys.0.secret", "plain-text-1") == "********"
    assert "plain-text-2" not in display(Keyring, "by_name", {"x": {"secret": "plain-text-2"}})
    assert display(Keyring, "by_name.x.secret", "plain-text-2") == "********"
    shown = display(Keyring, "", {"keys": raw, "by_name": {"x": {"secret": "plain-text-2"}}})
    assert "plain-text" not in shown


class Limits(Settings):
    per_plan: dict[str, Inner] = {}
    tiers: list[Inner] = []


def test_expectations_reach_into_lists_and_mappings_of_tables() -> None:
    assert expectation(Limits, "tiers.0.retries") == (
        "expected an integer from 0 to 10, e.g. retries = 3"
    )
    assert expectation(Limits, "per_plan.pro.retries") == (
        "expected an integer from 0 to 10, e.g. retries = 3"
    )
