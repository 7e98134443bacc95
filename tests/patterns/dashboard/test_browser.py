"""The dashboard in a real headless browser: Debian's chromium driven by Playwright.

Locally the test skips (with the reason) when chromium or Playwright is missing; under
``CI=true`` that is a failure. Playwright's own browser download is never used: the
system chromium is launched with a fresh profile and no background networking.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rainmaker
from rainmaker.testing.browser import chromium, served
from tests.patterns.dashboard.conftest import LoadApp


@pytest.fixture
def dashboard_url(load_app: LoadApp) -> Iterator[str]:
    """The dashboard app served over loopback HTTP; yields its base URL."""
    app: rainmaker.Application = load_app(dashboard="refresh_interval = 0.5")
    with served(app) as url:
        yield url


def test_dashboard_in_chromium(dashboard_url: str, tmp_path: Path) -> None:
    errors: list[str] = []
    with chromium(tmp_path) as browser:
        page = browser.new_page()

        def on_console(message: Any) -> None:
            if message.type == "error":
                errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(str(error)))
        response = page.goto(f"{dashboard_url}/_rainmaker", wait_until="load")
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
    assert errors == []
    assert screenshot.stat().st_size > 10_000
    print(f"dashboard screenshot: {screenshot}")  # shown with -s, for people to look at
