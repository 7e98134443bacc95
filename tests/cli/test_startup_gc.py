"""``rainmaker run`` pauses the cyclic collector while the app starts (rainmaker.cli.startup_gc)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from rainmaker.cli.startup_gc import PausedCollection


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()  # this test process is not a server: let its collector see everything again
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_paused_until_resumed_then_frozen_and_running() -> None:
    gc.enable()
    with PausedCollection() as collection:
        assert not gc.isenabled()
        collection.resume()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0  # what start-up built is left out of collections
        collection.resume()  # idempotent
        assert gc.isenabled()
    assert gc.isenabled()


def test_leaving_the_block_resumes_even_after_an_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), PausedCollection():
        raise RuntimeError("start-up failed")
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    with PausedCollection() as collection:
        collection.resume()
    assert not gc.isenabled()
