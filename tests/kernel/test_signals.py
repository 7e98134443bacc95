"""SIGTERM and SIGINT reach the shutdown hook instead of killing the process."""

from __future__ import annotations

import asyncio
import os
import signal

from rainmaker.kernel.signals import install_shutdown_handlers


async def test_signals_call_the_hook_until_removed() -> None:
    received: list[signal.Signals] = []
    got_one = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig)
        got_one.set()

    remove = install_shutdown_handlers(asyncio.get_running_loop(), on_signal)
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            got_one.clear()
            os.kill(os.getpid(), sig)
            await asyncio.wait_for(got_one.wait(), 5)
    finally:
        remove()
    assert received == [signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
