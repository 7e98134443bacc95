"""A route using ``CurrentOrg`` in an app that composes no ``Organizations`` provider fails
the start before anything serves, naming the route, the capability and the pattern to add."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter

from rainmaker import Module, Pattern, Settings, StartupError
from rainmaker.http import CurrentOrg
from rainmaker.testing.harness import build_app
from tests.patterns.auth_jwt.conftest import auth_settings

router = APIRouter()


@router.get("/reports")
async def reports(org: CurrentOrg) -> Any:
    return {"org": org.id}


class ReportsSettings(Settings):
    """No settings."""


class ReportsModule(Module[ReportsSettings]):
    def router(self) -> APIRouter:
        return router


reports_pattern: Pattern[ReportsSettings] = Pattern(
    id="test-reports",
    version="0.1.0",
    name="Reports (test)",
    settings=ReportsSettings,
    factory=ReportsModule,
)


async def test_current_org_without_a_provider_fails_before_serving(tmp_path: Path) -> None:
    app = build_app(
        {
            "db": {"use": "database-sqlite", "path": "x.db"},
            "auth": auth_settings(),
            "http": {"use": "framework-fastapi", "access_log": False},
            "reports": {"use": "test-reports"},
        },
        root=tmp_path,
        extra_patterns=[reports_pattern],
    )
    # The HTTP pattern checks every route's injections while composing, before serving.
    with pytest.raises(StartupError) as raised:
        await app.start()
    text = str(raised.value)
    assert "GET /reports needs Organizations" in text, text
    assert "add an instance of organizations" in text, text
