"""Configuration shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _fresh_logging_configuration() -> Iterator[None]:
    """Each test starts with logging unconfigured, as a new process would.

    Logging is process-wide: without this, a test that loads an app at level "warning"
    (every CLI command does) would silence the info events a later test looks for.
    """
    yield
    structlog.reset_defaults()
