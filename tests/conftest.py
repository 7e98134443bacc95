"""Configuration shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from rainmaker.kernel.logging_batch import drain_all


@pytest.fixture(autouse=True)
def _fresh_logging_configuration() -> Iterator[None]:
    """Each test starts with logging unconfigured, as a new process would.

    Logging is process-wide: without this, a test that loads an app at level "warning"
    (every CLI command does) would silence the info events a later test looks for.
    """
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _captured_output_includes_batched_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """``capsys``/``capfd.readouterr()`` see every log line already logged.

    JSON log lines logged inside an event loop are written in batches a few milliseconds
    later (kernel/logging_batch.py); a test reading the captured output at once would see
    them or not depending on the machine's load.
    """
    original = pytest.CaptureFixture.readouterr

    def readouterr(self: pytest.CaptureFixture[str]) -> object:
        drain_all()
        return original(self)

    monkeypatch.setattr(pytest.CaptureFixture, "readouterr", readouterr)
