"""The cyclic garbage collector, paused while ``rainmaker run`` starts the app.

Starting an app allocates objects that live as long as the process: modules, settings
models, routes and their pydantic schemas (some 160,000 for the demo SaaS). CPython's
collector runs after every 700 net allocations, and every tenth and hundredth run also
walks the older objects: while start-up builds that heap it is scanned again and again,
and almost nothing found is garbage. Measured on the demo: three full and
some thirty middle collections, a quarter of the CPU time to the first ready answer.

So ``run`` pauses automatic collection from loading the composition until every module has
started, then freezes what start-up built (:func:`gc.freeze`: later collections skip those
objects, which live as long as the process anyway) and resumes. This is the sequence the
:mod:`gc` documentation gives for a server that forks workers. The price: the few thousand
cyclic objects start-up dropped are never collected (under 1 MB of RSS for the demo).
"""

from __future__ import annotations

import gc
from types import TracebackType


class PausedCollection:
    """Automatic collection paused from ``__enter__`` until :meth:`resume` (or ``__exit__``).

    Resuming restores the collector as it was found: a process that had it disabled keeps
    it disabled.
    """

    def __init__(self) -> None:
        self._was_enabled = False
        self._paused = False

    def __enter__(self) -> PausedCollection:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._paused = True
        return self

    def resume(self) -> None:
        """Freeze what start-up allocated and resume collection; idempotent."""
        if not self._paused:
            return
        self._paused = False
        gc.freeze()
        if self._was_enabled:
            gc.enable()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.resume()
