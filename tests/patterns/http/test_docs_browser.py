"""The API explorer in a real headless browser: Swagger UI renders offline, under its CSP.

Debian's chromium driven by Playwright (as the dashboard's browser test does): every
request the page makes must go to the app itself (no CDN), no console error may appear
(a CSP violation is one), and the UI must list the app's operations. Locally the test
skips with the reason when chromium or Playwright is missing; under ``CI=true`` that is a
failure.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rainmaker
from tests.patterns.dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser
from tests.patterns.http.conftest import MakeApp


@pytest.fixture
def served(make_app: MakeApp) -> Iterator[str]:
    """The HTTP test app served by uvicorn on a free loopback port; yields its base URL."""
    import uvicorn

    app = rainmaker.load(make_app() / "rainmaker.toml")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):  # wait for startup (bounded by count, not by time asserted)
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.02)
        assert server.started, "uvicorn did not start the app"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_docs_render_offline_under_their_csp(served: str, tmp_path: Path) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    elsewhere: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.new_page()

            def on_console(message: Any) -> None:
                if message.type == "error":
                    errors.append(message.text)

            def on_request(request: Any) -> None:
                if not request.url.startswith((served, "data:")):
                    elsewhere.append(request.url)

            page.on("console", on_console)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", on_request)
            response = page.goto(f"{served}/docs", wait_until="load")
            assert response is not None and response.status == 200
            assert "script-src 'self'" in response.headers["content-security-policy"]
            page.wait_for_selector(".opblock-summary-path", timeout=20_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert any("/api/items" in path for path in paths), paths
            title = page.locator(".info .title").inner_text()
            assert "httptest" in title
            # Open an operation and its models: more of the UI renders (and styles apply).
            page.locator(".opblock-summary").first.click()
            page.wait_for_selector(".opblock-body", timeout=10_000)
            page.locator(".try-out__btn").first.click()
            page.wait_for_selector(".execute", timeout=10_000)
            page.locator(".models-control").first.click()
        finally:
            context.close()
    assert elsewhere == []  # offline: nothing from a CDN
    assert errors == []
