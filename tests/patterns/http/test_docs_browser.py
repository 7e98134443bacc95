"""The API explorer in a real headless browser: Swagger UI renders offline, under its CSP.

Debian's chromium driven by Playwright (as the dashboard's browser test does): every
request the page makes must go to the app itself (no CDN), no console error may appear
(a CSP violation is one), and the UI must list the app's operations. Locally the test
skips with the reason when chromium or Playwright is missing; under ``CI=true`` that is a
failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rainmaker
from rainmaker.testing.browser import chromium, served
from tests.patterns.http.conftest import MakeApp


@pytest.fixture
def app_url(make_app: MakeApp) -> Iterator[str]:
    """The HTTP test app served over loopback HTTP; yields its base URL."""
    with served(rainmaker.load(make_app() / "rainmaker.toml")) as url:
        yield url


def test_docs_render_offline_under_their_csp(app_url: str, tmp_path: Path) -> None:
    errors: list[str] = []
    elsewhere: list[str] = []
    with chromium(tmp_path) as browser:
        page = browser.new_page()

        def on_console(message: Any) -> None:
            if message.type == "error":
                errors.append(message.text)

        def on_request(request: Any) -> None:
            if not request.url.startswith((app_url, "data:")):
                elsewhere.append(request.url)

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", on_request)
        response = page.goto(f"{app_url}/docs", wait_until="load")
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
    assert elsewhere == []  # offline: nothing from a CDN
    assert errors == []
