"""Apps built here configure logging on pytest's captured stdout; forget that afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    # An app built without load() configures structlog on the stream of the moment, which
    # pytest closes after the test: later tests must not write to it.
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
