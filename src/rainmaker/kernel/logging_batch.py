"""Log lines written in batches off the request path, and never lost at a normal exit.

Writing each rendered line to stderr costs a system call (``write`` + ``flush``); a web
process logs one access line per request, so that call sat on every request's path.
:class:`BatchedLines` collects the lines written from inside a running event loop and a
background thread writes them in one call a few milliseconds later (at once when 64 KiB are
waiting). Lines written where no loop runs (the CLI, start-up) go out immediately, after
whatever was waiting, so the order of lines is kept.

Nothing is lost at shutdown: the waiting lines are written when the process exits
(``atexit``, which runs after uvicorn's graceful stop on SIGTERM or Ctrl-C), when anything
else is written to stderr through the logging configuration, and on :meth:`drain`. Only a
process killed outright (SIGKILL, ``os._exit``) can lose the last few milliseconds.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
import time
import weakref
from typing import Protocol

# Long enough to gather the lines of many requests under load, short enough that a person
# tailing the log sees no lag; the size bound keeps a burst from piling up memory.
DELAY_S = 0.005
LIMIT_BYTES = 64 * 1024
PARK_AFTER = 200  # quiet DELAY_S periods (one second) before the writer thread parks


class BinaryStream(Protocol):
    """Where the batches go (stderr's binary side)."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> object: ...


class BatchedLines:
    """A binary stream for structlog's ``BytesLogger`` that writes its lines in batches."""

    __slots__ = (
        "__weakref__",
        "_lock",
        "_parked",
        "_pending",
        "_size",
        "_target",
        "_thread",
        "_wake",
    )

    def __init__(self, target: BinaryStream) -> None:
        self._target = target
        self._pending: list[bytes] = []
        self._size = 0
        self._reset()
        _open.add(self)

    def _reset(self) -> None:
        """Fresh thread state (also in a forked child, where the writer thread is gone)."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._parked = True  # the writer thread waits for _wake (or is not started yet)
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> bool:
        """Whether lines are waiting to be written."""
        return bool(self._pending)

    def write(self, data: bytes) -> int:
        """Queue ``data``; it is written with the next batch (at once outside a loop)."""
        self._pending.append(data)  # before reading _parked: see _write_batches
        self._size += len(data)
        if self._size >= LIMIT_BYTES or not _in_event_loop():
            self.drain()
        elif self._parked:  # rare: the first line after a quiet second
            self._parked = False
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._write_batches, name="rainmaker-log-writer", daemon=True
                )
                self._thread.start()
            self._wake.set()
        return len(data)

    def flush(self) -> None:
        """Nothing: ``BytesLogger`` flushes after every line, which batching is to avoid.

        The batch is flushed when it is written (:meth:`drain`).
        """

    def drain(self) -> None:
        """Write every waiting line now, in one call."""
        with self._lock:
            if not self._pending:
                return
            lines, self._pending, self._size = self._pending, [], 0
            self._target.write(b"".join(lines))
            self._target.flush()

    def _write_batches(self) -> None:
        # The writer thread: the system call happens here, not in the request's task. It
        # polls while lines keep coming (waking it per line would cost the request path a
        # thread hand-off) and parks after a quiet second, so an idle process sleeps.
        quiet = 0
        while True:
            time.sleep(DELAY_S)
            if self._pending:
                quiet = 0
                # stderr closed (ValueError) or broken (OSError): nowhere to report it;
                # the lines already taken are gone, the next batch tries again.
                with contextlib.suppress(OSError, ValueError):
                    self.drain()
                continue
            quiet += 1
            if quiet < PARK_AFTER:
                continue
            self._parked = True  # before reading _pending: a write after this wakes us
            if self._pending:
                self._parked = False
                continue
            self._wake.wait()
            self._wake.clear()
            quiet = 0


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_open: weakref.WeakSet[BatchedLines] = weakref.WeakSet()


def _after_fork() -> None:
    for batch in list(_open):
        batch._reset()


os.register_at_fork(after_in_child=_after_fork)


@atexit.register
def drain_all() -> None:
    """Write the waiting lines of every batch (at exit, and for tests that need them now)."""
    for batch in list(_open):
        batch.drain()
