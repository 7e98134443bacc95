"""An app in a real browser: serve it over loopback HTTP, open it in headless Chromium.

:func:`served` runs any ASGI app (a loaded :class:`rainmaker.Application` included, with
its lifespan) under uvicorn in a background thread on a free 127.0.0.1 port, and yields
its base URL. :func:`chromium` opens Debian's Chromium (``/usr/bin/chromium``) through
Playwright with a fresh profile and no background networking; Playwright's own browser
download is never used. Without Chromium or Playwright a test skips with the reason
locally and fails under ``CI=true`` (:func:`require_chromium`)::

    from rainmaker.testing.browser import chromium, served

    def test_page(tmp_path):
        with served(rainmaker.load("rainmaker.toml")) as url, chromium(tmp_path) as browser:
            page = browser.new_page()
            assert page.goto(f"{url}/docs").status == 200

Needs ``uvicorn`` (the ``http`` extra) and ``playwright`` (``pip install playwright``,
then ``apt-get install chromium``); both are imported only when used.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from rainmaker.capabilities.http import HttpApp
from rainmaker.testing.servers import in_ci

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM = Path("/usr/bin/chromium")
"""Where Debian's ``chromium`` package installs the browser :func:`chromium` launches."""

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # a test's page talks to the app alone
    "--disable-component-update",
    "--disable-sync",
)
"""The command-line flags :func:`chromium` starts the browser with."""

_STARTUP_POLLS = 500  # times 20 ms: how long served() waits for uvicorn's startup


@contextmanager
def served(app: HttpApp) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port, lifespan on; yields its base URL
    (``http://127.0.0.1:PORT``). On exit the server shuts down (lifespan shutdown runs)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the port is ours before uvicorn starts: no race for it
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait = threading.Event()
        for _ in range(_STARTUP_POLLS):
            if server.started or not thread.is_alive():
                break
            wait.wait(0.02)
        if not server.started:
            raise RuntimeError("uvicorn did not start the app (its startup failed or hung)")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def require_chromium() -> None:
    """Skip the calling test (fail it under ``CI=true``) when Chromium or Playwright is
    missing, with the command that installs it."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install playwright)"
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"{problem}; CI must run the browser tests", pytrace=False)
    pytest.skip(problem)


@contextmanager
def chromium(profile: Path, *, width: int = 1400, height: int = 1000) -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh profile kept in the folder ``profile`` (a test's
    ``tmp_path``), its window ``width`` by ``height``; yields Playwright's browser context
    (``.new_page()``), closed on exit. Skips or fails first as :func:`require_chromium`."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=list(CHROMIUM_ARGS),
            headless=True,
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()


__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "chromium", "require_chromium", "served"]
