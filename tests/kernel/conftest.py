"""Kernel test fixtures."""

import pytest

from tests.kernel import fakes


@pytest.fixture(autouse=True)
def _reset_fake_events() -> None:
    fakes.events.clear()
