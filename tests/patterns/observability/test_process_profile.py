"""Profiling the running process from the operator surface and the dashboard (issue 21).

``POST /_operator/profile?seconds=N`` samples the process while its traffic runs and
answers the time by pattern instance; ``GET /_operator/profile.html`` serves the report;
the observability pattern's "Profile" dashboard panel shows the table. Development only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rainmaker.kernel.application import Application
from rainmaker.testing.harness import http_client
from tests.patterns.observability.test_operator import BEARER, TOKEN, compose

pytest.importorskip("pyinstrument")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Application]:
    application = compose(tmp_path, operator={"token": TOKEN})
    async with application.running():
        yield application


async def traffic(client: httpx.AsyncClient, stop: asyncio.Event) -> int:
    sent = 0
    while not stop.is_set():
        await client.get("/health/ready")
        sent += 1
    return sent


async def test_a_profile_of_the_running_process_names_its_patterns(app: Application) -> None:
    async with http_client(app) as client:
        missing = await client.get("/_operator/profile.html", headers=BEARER)
        assert missing.status_code == 404
        assert "POST /_operator/profile" in missing.json()["detail"]

        stop = asyncio.Event()
        load = asyncio.create_task(traffic(client, stop))
        answer = await client.post("/_operator/profile?seconds=1", headers=BEARER)
        stop.set()
        assert await load > 0
        assert answer.status_code == 200, answer.text
        body = answer.json()
        owners = {row["owner"]: row for row in body["by_owner"]}
        assert {"web", "db", "obs"} <= set(owners)  # every composed instance is listed
        assert owners["web"]["pattern"] == "framework-fastapi"
        assert owners["web"]["seconds"] > 0  # the health routes ran under the sampler
        assert body["sampled_seconds"] > 0

        report = await client.get(body["html"], headers=BEARER)
        assert report.status_code == 200
        assert report.headers["content-type"].startswith("text/html")
        assert "pyinstrument" in report.text.lower()

    module = app.instances["obs"].module
    assert module is not None
    (panel,) = [p for p in module.dashboard_panels() if p.title == "Profile"]
    table = await panel.read(50)
    assert "web" in {row[0] for row in table.rows}
    assert "/_operator/profile.html" in table.note


async def test_bad_requests_are_refused_with_problems(app: Application) -> None:
    async with http_client(app) as client:
        unauthenticated = await client.post("/_operator/profile?seconds=1")
        assert unauthenticated.status_code == 401
        too_long = await client.post("/_operator/profile?seconds=3600", headers=BEARER)
        assert too_long.status_code == 422
        assert too_long.headers["content-type"].startswith("application/problem+json")

        first = asyncio.create_task(client.post("/_operator/profile?seconds=1", headers=BEARER))
        await asyncio.sleep(0.2)
        second = await client.post("/_operator/profile?seconds=1", headers=BEARER)
        assert (await first).status_code == 200
        assert second.status_code == 409
        assert "running already" in second.json()["detail"]


async def test_outside_development_the_process_is_not_profiled(tmp_path: Path) -> None:
    application = compose(tmp_path, operator={"token": TOKEN}, profile="production")
    async with application.running(), http_client(application) as client:
        answer = await client.post("/_operator/profile?seconds=1", headers=BEARER)
        assert answer.status_code == 403
        assert "development profile only" in answer.json()["detail"]
        module = application.instances["obs"].module
        assert module is not None
        assert "Profile" not in {p.title for p in module.dashboard_panels()}
