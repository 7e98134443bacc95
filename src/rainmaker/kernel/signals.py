"""Hooking SIGTERM and SIGINT into the event loop, for graceful shutdown."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def install_shutdown_handlers(
    loop: asyncio.AbstractEventLoop, on_signal: Callable[[signal.Signals], None]
) -> Callable[[], None]:
    """Call ``on_signal(sig)`` on SIGTERM/SIGINT; returns a function that removes the hooks."""
    for sig in SHUTDOWN_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)

    def remove() -> None:
        for sig in SHUTDOWN_SIGNALS:
            loop.remove_signal_handler(sig)

    return remove
