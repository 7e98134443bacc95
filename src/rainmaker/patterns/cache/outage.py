"""Outage tracking for a cache server: a circuit breaker with rate-limited logging.

When the server stops answering, the first failure opens the circuit: for
``retry_interval`` seconds operations do not touch the network at all (they fail open or
raise at once instead of each waiting for a timeout), then the next operation probes again.
Health checks always probe, so a recovered server is noticed without a restart.

Logs stay readable during an outage: one warning when it starts, at most one reminder per
``log_interval`` (with how many operations failed meanwhile) and one line when it ends.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger


class Outage:
    """Whether the server is considered down, and the logging that goes with it."""

    __slots__ = (
        "_last_logged",
        "_log",
        "_retry_at",
        "down_since",
        "endpoint",
        "failures",
        "last_error",
        "log_interval",
        "retry_interval",
    )

    def __init__(
        self,
        endpoint: str,
        log: FilteringBoundLogger,
        *,
        retry_interval: float,
        log_interval: float,
    ) -> None:
        self.endpoint = endpoint
        self.retry_interval = retry_interval
        self.log_interval = log_interval
        self._log = log
        self.down_since: float | None = None
        self.last_error = ""
        self.failures = 0
        self._retry_at = 0.0
        self._last_logged = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def circuit_open(self) -> bool:
        """Whether to skip the server now (down, and not yet time to probe again)."""
        return self.down_since is not None and time.monotonic() < self._retry_at

    def failed(self, error: BaseException, operation: str) -> None:
        """Record a failed operation; open the circuit and log (rate-limited)."""
        now = time.monotonic()
        self.last_error = describe(error)
        self._retry_at = now + self.retry_interval
        self.failures += 1
        if self.down_since is None:
            self.down_since = now
            self._last_logged = now
            self.failures = 1
            self._log.warning(
                "cache.unavailable",
                endpoint=self.endpoint,
                operation=operation,
                error=self.last_error,
            )
        elif now - self._last_logged >= self.log_interval:
            self._last_logged = now
            self._log.warning(
                "cache.still_unavailable",
                endpoint=self.endpoint,
                failed_operations=self.failures,
                down_for_s=round(now - self.down_since, 1),
                error=self.last_error,
            )

    def skipped(self) -> None:
        """Count an operation skipped while the circuit is open."""
        self.failures += 1

    def recovered(self) -> None:
        """The server answered again: close the circuit and say so once."""
        if self.down_since is None:
            return
        down_for = time.monotonic() - self.down_since
        self._log.info(
            "cache.recovered",
            endpoint=self.endpoint,
            down_for_s=round(down_for, 1),
            failed_operations=self.failures,
        )
        self.down_since = None
        self.failures = 0
        self.last_error = ""


def describe(error: BaseException) -> str:
    """``Type: message`` for an error, without chained noise."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
