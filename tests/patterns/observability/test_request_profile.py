"""`?profile=1` in development: the answer is the pyinstrument profile of that request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rainmaker.kernel.application import Application
from rainmaker.testing.harness import build_app, http_client


def compose(root: Path, profile: str = "development", **obs: Any) -> Application:
    app = build_app(
        {
            "web": {"use": "framework-fastapi"},
            "obs": {"use": "observability", "profile_requests": True, **obs},
        },
        root=root,
    )
    app.composition.profile = profile
    return app


async def test_profile_1_answers_with_the_requests_profile(tmp_path: Path) -> None:
    app = compose(tmp_path)
    async with app.running(), http_client(app) as client:
        profiled = await client.get("/health/live?profile=1")
        plain = await client.get("/health/live")
        missing = await client.get("/no/such/route?profile=1")
    assert profiled.status_code == 200
    assert profiled.headers["content-type"].startswith("text/html")
    assert "pyinstrument" in profiled.text.lower()
    assert profiled.headers["x-profiled-status"] == "200"
    assert plain.json() == {"status": "alive"}
    assert missing.headers["x-profiled-status"] == "404"  # the app's own answer, named


async def test_ignored_outside_development(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = compose(tmp_path, profile="production")
    async with app.running(), http_client(app) as client:
        response = await client.get("/health/live?profile=1")
    assert response.json() == {"status": "alive"}
    assert "observability.profile_requests_ignored" in capsys.readouterr().err


async def test_works_with_metrics_and_tracing_off(tmp_path: Path) -> None:
    app = compose(tmp_path, metrics={"enabled": False})
    async with app.running(), http_client(app) as client:
        response = await client.get("/health/live?profile=1")
    assert response.headers["content-type"].startswith("text/html")
