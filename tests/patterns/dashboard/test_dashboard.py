"""The dashboard served by a started app: content, redaction, access rules, profiles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import ValidationError

import rainmaker
from rainmaker.kernel.secrets import MASK
from rainmaker.patterns.dashboard.access import is_loopback
from rainmaker.patterns.dashboard.settings import DashboardSettings
from tests.patterns.dashboard.conftest import LoadApp
from tests.patterns.dashboard.sample_patterns import SECRET


@asynccontextmanager
async def client_of(
    app: rainmaker.Application, client: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A started ``app`` and an httpx client calling it from address ``client`` (as
    ``localhost``: the dashboard wants a loopback Host too)."""
    async with app.running():
        transport = httpx.ASGITransport(app=app, client=(client, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http


def test_default_profiles_are_every_profile_but_production() -> None:
    settings = DashboardSettings()
    assert settings.serves_in("development")
    assert settings.serves_in("staging")
    assert not settings.serves_in("production")


def test_profiles_and_production_opt_in() -> None:
    only_dev = DashboardSettings(profiles=["development"])
    assert only_dev.serves_in("development") and not only_dev.serves_in("staging")
    assert DashboardSettings(enabled_in_production=True).serves_in("production")
    listed = DashboardSettings(profiles=["production"], enabled_in_production=True)
    assert listed.serves_in("production") and not listed.serves_in("development")
    with pytest.raises(ValidationError, match="enabled_in_production"):
        DashboardSettings(profiles=["production"])


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.5", False),
        ("::ffff:10.0.0.5", False),
        ("testclient", False),
        (None, False),
    ],
)
def test_loopback_addresses(host: str | None, expected: bool) -> None:
    assert is_loopback(host) is expected


async def test_page_shows_every_pattern_with_its_health(load_app: LoadApp) -> None:
    app = load_app()
    async with client_of(app) as http:
        response = await http.get("/_rainmaker")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    # The route's own policy wins over the API's default-src 'none' (its assets are 'self').
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    for name, status in (
        ("web", "up"),
        ("db", "up"),
        ("greeter", "degraded"),
        ("queue", "up"),
        ("dashboard", "up"),
    ):
        assert f'data-health-of="{name}">{status}<' in html
    assert '<g class="node status-degraded" data-instance="greeter">' in html
    for pattern in ("framework-fastapi", "database-sqlite", "greeter", "queue-probe"):
        assert f"<code>{pattern}</code>" in html
    assert "GET" in html and "/health/ready" in html  # the routes table


async def test_no_secret_leaves_the_server(load_app: LoadApp) -> None:
    app = load_app()
    async with client_of(app) as http:
        bodies = [
            (await http.get(path)).text
            for path in ("/_rainmaker", "/_rainmaker/api/state", "/_rainmaker/api/health")
        ]
    for body in bodies:
        assert SECRET not in body
        assert MASK in body
    state = httpx.Response(200, content=bodies[1]).json()
    greeter_key = next(
        row for row in state["settings"] if (row["instance"], row["key"]) == ("greeter", "api_key")
    )
    assert greeter_key["value"] == MASK


async def test_state_api_has_every_panel(load_app: LoadApp) -> None:
    app = load_app()
    async with client_of(app) as http:
        state = (await http.get("/_rainmaker/api/state")).json()
    assert [row["name"] for row in state["instances"]] == app.order
    assert state["status"] == "degraded" and state["ready"] is True
    assert {"methods": ["GET"], "path": "/health/ready"}.items() <= {
        k: v for row in state["routes"] if row["path"] == "/health/ready" for k, v in row.items()
    }.items()
    [migrations] = [panel for panel in state["panels"] if panel["title"] == "Migrations: db"]
    assert migrations["columns"] == ["pattern", "instances", "current", "head", "state"]
    [row] = migrations["rows"]
    assert row[0] == "database-sqlite" and row[4] == "up to date"
    assert row[2] == row[3] != "base"


async def test_jobs_panels_show_queue_depths_and_failed_jobs(load_app: LoadApp) -> None:
    app = load_app(dashboard="panel_rows = 2")
    async with client_of(app) as http:
        state = (await http.get("/_rainmaker/api/state")).json()
        html = (await http.get("/_rainmaker")).text
    panels = {panel["title"]: panel for panel in state["panels"] if panel["instance"] == "queue"}
    backlog = panels["Jobs: queue backlog"]
    assert backlog["rows"] == [["default", "4", "1", "2.5"], ["emails", "0", "0", "-"]]
    failed = panels["Jobs: queue failed jobs"]
    assert failed["note"] == "3 dead letters"
    assert [row[0] for row in failed["rows"]] == ["job-0", "job-1"]  # the limit applies
    assert failed["rows"][0] == [
        "job-0",
        "send_welcome",
        "emails",
        "5",
        f"SMTP refused with {MASK}",
        "2026-11-26T10:00:00+00:00",
    ]
    assert "send_welcome" in html and "<td>emails</td>" in html
    assert "3 dead letters" in html


async def test_the_deprecated_failed_jobs_limit_still_limits_rows(load_app: LoadApp) -> None:
    app = load_app(dashboard="failed_jobs_limit = 1")
    async with client_of(app) as http:
        state = (await http.get("/_rainmaker/api/state")).json()
    [failed] = [p for p in state["panels"] if p["title"] == "Jobs: queue failed jobs"]
    assert [row[0] for row in failed["rows"]] == ["job-0"]


async def test_loopback_only_refuses_other_clients(load_app: LoadApp) -> None:
    app = load_app()
    async with client_of(app, client="10.1.2.3") as http:
        for path in ("/_rainmaker", "/_rainmaker/api/state", "/_rainmaker/assets/dashboard.js"):
            response = await http.get(path)
            assert response.status_code == 403
            assert response.headers["content-type"] == "application/problem+json"
            assert SECRET not in response.text


async def test_loopback_only_off_serves_other_clients(load_app: LoadApp) -> None:
    app = load_app(dashboard="loopback_only = false")
    async with client_of(app, client="10.1.2.3") as http:
        assert (await http.get("/_rainmaker")).status_code == 200


async def test_assets(load_app: LoadApp) -> None:
    app = load_app()
    async with client_of(app) as http:
        css = await http.get("/_rainmaker/assets/dashboard.css")
        js = await http.get("/_rainmaker/assets/dashboard.js")
        missing = await http.get("/_rainmaker/assets/secrets.txt")
    assert css.headers["content-type"].startswith("text/css") and ".status-up" in css.text
    assert js.headers["content-type"].startswith("text/javascript") and "fetch(" in js.text
    assert missing.status_code == 404


PRODUCTION = """
[profiles.production.patterns.db]
path = "prod.db"
"""


async def test_production_profile_has_no_dashboard_route(load_app: LoadApp) -> None:
    app = load_app(profile="production", extra=PRODUCTION)
    async with client_of(app) as http:
        assert (await http.get("/_rainmaker")).status_code == 404
        health = (await http.get("/_rainmaker/api/health")).status_code
        detail = (await http.get("/health")).json()
    assert health == 404
    assert detail["patterns"]["dashboard"]["details"]["serving"] is False


async def test_production_profile_serves_when_enabled(load_app: LoadApp) -> None:
    app = load_app(dashboard="enabled_in_production = true", profile="production", extra=PRODUCTION)
    async with client_of(app) as http:
        assert (await http.get("/_rainmaker")).status_code == 200


async def test_dashboard_routes_stay_out_of_openapi(load_app: LoadApp) -> None:
    app = load_app()
    async with client_of(app) as http:
        document = (await http.get("/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/_rainmaker")]
