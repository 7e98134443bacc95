"""The dashboard in a real headless browser: Debian's chromium driven by Playwright.

Locally the test skips (with the reason) when chromium or Playwright is missing; under
``CI=true`` that is a failure. Playwright's own browser download is never used: the
system chromium is launched with a fresh profile and no background networking.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rainmaker
from rainmaker.testing.servers import in_ci
from tests.patterns.dashboard.conftest import LoadApp

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _require_browser() -> None:
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


@pytest.fixture
def served(load_app: LoadApp) -> Iterator[str]:
    """The dashboard app served by uvicorn on a free loopback port; yields its base URL."""
    import uvicorn

    app: rainmaker.Application = load_app(dashboard="refresh_interval = 0.5")
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


def test_dashboard_in_chromium(served: str, tmp_path: Path) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
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

            page.on("console", on_console)
            page.on("pageerror", lambda error: errors.append(str(error)))
            response = page.goto(f"{served}/_rainmaker", wait_until="load")
            assert response is not None and response.status == 200
            # Let the page refresh health from the API at least once (0.5 s interval).
            with page.expect_response(lambda r: r.url.endswith("/_rainmaker/api/health")):
                pass

            rows = page.locator("tr.instance")
            shown = {
                rows.nth(i).get_attribute("data-instance"): rows.nth(i)
                .locator("[data-health-of]")
                .inner_text()
                for i in range(rows.count())
            }
            assert shown == {
                "web": "up",
                "db": "up",
                "greeter": "degraded",
                "queue": "up",
                "dashboard": "up",
            }
            assert page.locator("svg.graph g.node").count() == 5
            # The stylesheet applied (CSP allows 'self'): badges are coloured.
            colour = page.locator('[data-health-of="greeter"]').evaluate(
                "element => getComputedStyle(element).backgroundColor"
            )
            assert colour != "rgba(0, 0, 0, 0)"
            screenshot = tmp_path / "dashboard.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            context.close()
    assert errors == []
    assert screenshot.stat().st_size > 10_000
    print(f"dashboard screenshot: {screenshot}")  # shown with -s, for people to look at
