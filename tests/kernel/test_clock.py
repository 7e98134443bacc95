"""The clock and the duration type every pattern shares, exported through ``rainmaker``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel, ValidationError

import rainmaker
from rainmaker import Seconds, utcnow


def test_utcnow_is_aware_utc() -> None:
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_seconds_is_a_positive_number() -> None:
    class Timeouts(BaseModel):
        wait: Seconds = 1.5

    assert Timeouts(wait=0.25).wait == 0.25
    for bad in (0, -1):
        with pytest.raises(ValidationError, match="greater than 0"):
            Timeouts(wait=bad)


def test_both_are_public_names() -> None:
    assert {"Seconds", "utcnow"} <= set(rainmaker.__all__)
