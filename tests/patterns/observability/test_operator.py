"""The operator endpoints through the real app: refused without credentials (401) or from
a non-allowed address (403), answered with them; log levels change at runtime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from rainmaker import StartupError
from rainmaker.capabilities.auth import Auth
from rainmaker.kernel.application import Application
from rainmaker.testing.harness import build_app, http_client

TOKEN = "operator-token-0123456789-abcdefghijkl"
JWT_SECRET = "jwt-secret-for-the-operator-tests-0123456789"
SECRET_HEADER = "otel-header-secret-value-never-shown"
BEARER = {"authorization": f"Bearer {TOKEN}"}


def compose(
    root: Path, *, operator: dict[str, Any], auth: bool = False, profile: str = "development"
) -> Application:
    patterns: dict[str, dict[str, Any]] = {
        "web": {"use": "framework-fastapi"},
        "db": {"use": "database-sqlite", "path": str(root / "app.db")},
        "obs": {
            "use": "observability",
            "operator": {"enabled": True, **operator},
            "tracing": {"headers": {"authorization": SECRET_HEADER}},
        },
    }
    if auth:
        patterns["auth"] = {"use": "auth-jwt", "secret": JWT_SECRET}
    app = build_app(patterns, root=root, name="ops")
    app.composition.profile = profile  # as `--profile production` would choose
    return app


def client_from(app: Application, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Application]:
    application = compose(tmp_path, operator={"token": TOKEN})
    async with application.running():
        yield application


async def test_without_credentials_401_problem(app: Application) -> None:
    async with http_client(app) as client:
        response = await client.get("/_operator/loggers")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Authorization: Bearer" in response.json()["detail"]


async def test_a_wrong_token_is_401(app: Application) -> None:
    async with http_client(app) as client:
        response = await client.get(
            "/_operator/loggers", headers={"authorization": "Bearer not-the-token"}
        )
    assert response.status_code == 401


async def test_from_a_non_loopback_address_in_development_403(app: Application) -> None:
    async with client_from(app, "203.0.113.9") as client:
        response = await client.get("/_operator/loggers", headers=BEARER)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "203.0.113.9" in response.json()["detail"]


async def test_allow_from_admits_a_network(tmp_path: Path) -> None:
    application = compose(tmp_path, operator={"token": TOKEN, "allow_from": ["10.0.0.0/8"]})
    async with application.running():
        async with client_from(application, "10.1.2.3") as client:
            assert (await client.get("/_operator/versions", headers=BEARER)).status_code == 200
        async with client_from(application, "127.0.0.1") as client:
            assert (await client.get("/_operator/versions", headers=BEARER)).status_code == 403


async def test_every_endpoint_answers_json_with_the_token(app: Application) -> None:
    async with http_client(app) as client:
        index = await client.get("/_operator", headers=BEARER)
        assert index.status_code == 200
        for path in index.json()["endpoints"].values():
            response = await client.get(path, headers=BEARER)
            assert response.status_code == 200, path
            assert response.headers["content-type"] == "application/json"


async def test_the_startup_timeline_lists_every_instance(app: Application) -> None:
    async with http_client(app) as client:
        timeline = (await client.get("/_operator/startup", headers=BEARER)).json()
    assert [i["instance"] for i in timeline["instances"]] == app.order
    assert all(i["start_ms"] is not None for i in timeline["instances"])


async def test_config_is_redacted_and_names_the_layer(app: Application) -> None:
    async with http_client(app) as client:
        response = await client.get("/_operator/config", headers=BEARER)
    text = response.text
    assert TOKEN not in text and SECRET_HEADER not in text and JWT_SECRET not in text
    obs = {row["key"]: row for row in response.json()["instances"]["obs"]["settings"]}
    assert obs["operator"]["source"] == "rainmaker.toml"
    assert obs["metrics"]["source"] == "default"


async def test_versions_name_each_instance_pattern(app: Application) -> None:
    async with http_client(app) as client:
        versions = (await client.get("/_operator/versions", headers=BEARER)).json()
    db = app.instances["db"].pattern
    assert versions["patterns"]["db"] == {"pattern": "database-sqlite", "version": db.version}
    assert set(versions["patterns"]) == set(app.order)


async def test_threads_and_tasks_show_where_they_wait(app: Application) -> None:
    release = asyncio.Event()

    async def parked_here() -> None:
        await release.wait()

    task = asyncio.create_task(parked_here(), name="parked-for-the-test")
    await asyncio.sleep(0)
    try:
        async with http_client(app) as client:
            dump = (await client.get("/_operator/threads", headers=BEARER)).json()
    finally:
        release.set()
        await task
    assert any(thread["name"] == "MainThread" and thread["stack"] for thread in dump["threads"])
    (parked,) = [t for t in dump["tasks"] if t["name"] == "parked-for-the-test"]
    functions = [frame["function"] for frame in parked["stack"]]
    assert functions[0] == "parked_here" and "wait" in functions  # down to the await


async def test_a_log_level_changes_at_runtime_and_is_restored_at_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    application = compose(tmp_path, operator={"token": TOKEN})
    log = structlog.get_logger("rainmaker", instance="db")
    sqlalchemy_level = logging.getLogger("sqlalchemy").level  # SQLAlchemy sets its own
    async with application.running():
        async with http_client(application) as client:
            before = (await client.get("/_operator/loggers", headers=BEARER)).json()
            assert before["loggers"]["rainmaker.db"]["level"] == "info"
            assert {"root", "rainmaker", "rainmaker.obs"} <= set(before["loggers"])
            capsys.readouterr()
            log.debug("db.detail.before")
            changed = await client.put(
                "/_operator/loggers/rainmaker.db", json={"level": "debug"}, headers=BEARER
            )
            assert changed.status_code == 200
            assert changed.json() == {
                "logger": "rainmaker.db",
                "level": "debug",
                "configured": "debug",
            }
            log.debug("db.detail.after")
            structlog.get_logger("rainmaker", instance="web").debug("web.detail.after")
            quiet = await client.put(
                "/_operator/loggers/sqlalchemy", json={"level": "ERROR"}, headers=BEARER
            )
            assert quiet.json()["level"] == "error"
        written = capsys.readouterr().err
        assert "db.detail.after" in written
        assert "db.detail.before" not in written
        assert "web.detail.after" not in written  # only the instance asked for
    assert logging.getLogger("rainmaker.db").level == logging.NOTSET
    assert logging.getLogger("sqlalchemy").level == sqlalchemy_level
    capsys.readouterr()
    log.debug("db.detail.stopped")
    assert "db.detail.stopped" not in capsys.readouterr().err


async def test_the_root_level_changes_and_is_put_back(tmp_path: Path) -> None:
    application = compose(tmp_path, operator={"token": TOKEN})
    root = logging.getLogger()
    async with application.running():
        before = root.level
        async with http_client(application) as client:
            changed = await client.put(
                "/_operator/loggers/root", json={"level": "error"}, headers=BEARER
            )
            assert changed.json()["level"] == "error"
            assert root.level == logging.ERROR
            listed = (await client.get("/_operator/loggers", headers=BEARER)).json()
            assert listed["loggers"]["root"]["level"] == "error"
            assert listed["loggers"]["rainmaker.web"]["level"] == "error"  # inherited
            reset = await client.put(  # null: back to the level it had
                "/_operator/loggers/root", json={"level": None}, headers=BEARER
            )
            assert reset.status_code == 200
            assert root.level == before  # the app's own level, not NOTSET (everything)
    assert root.level == before


async def test_a_level_that_does_not_exist_is_422_naming_the_levels(app: Application) -> None:
    async with http_client(app) as client:
        response = await client.put(
            "/_operator/loggers/rainmaker.db", json={"level": "loud"}, headers=BEARER
        )
        missing = await client.put(
            "/_operator/loggers/no.such.logger", json={"level": "info"}, headers=BEARER
        )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "debug, info, warning, error, critical" in response.json()["detail"]
    assert missing.status_code == 404


async def test_development_without_token_or_auth_opens_to_loopback_only(tmp_path: Path) -> None:
    application = compose(tmp_path, operator={})
    async with application.running():
        async with http_client(application) as client:
            assert (await client.get("/_operator/versions")).status_code == 200
        async with client_from(application, "192.0.2.1") as client:
            assert (await client.get("/_operator/versions")).status_code == 403


async def test_outside_development_the_surface_needs_a_way_in(tmp_path: Path) -> None:
    application = compose(tmp_path, operator={}, profile="production")
    with pytest.raises(StartupError, match=r"operator\.token"):
        await application.start()


async def test_in_production_any_address_but_always_credentials(tmp_path: Path) -> None:
    application = compose(tmp_path, operator={"token": TOKEN}, profile="production")
    async with application.running():
        async with client_from(application, "198.51.100.7") as client:
            assert (await client.get("/_operator/versions")).status_code == 401
            assert (await client.get("/_operator/versions", headers=BEARER)).status_code == 200


async def test_with_auth_an_operator_role_opens_and_other_roles_get_403(tmp_path: Path) -> None:
    application = compose(tmp_path, operator={}, auth=True)
    async with application.running():
        auth = application.services.require(Auth)
        operator = await auth.create_user("ops@example.com", "a-long-password-1", role="operator")
        member = await auth.create_user("member@example.com", "a-long-password-2", role="user")
        ops_token = (await auth.issue_tokens(operator)).access_token
        member_token = (await auth.issue_tokens(member)).access_token
        async with http_client(application) as client:
            assert (await client.get("/_operator/versions")).status_code == 401
            ok = await client.get(
                "/_operator/versions", headers={"authorization": f"Bearer {ops_token}"}
            )
            assert ok.status_code == 200
            refused = await client.get(
                "/_operator/versions", headers={"authorization": f"Bearer {member_token}"}
            )
            assert refused.status_code == 403
            assert "'operator'" in refused.json()["detail"]
            forged = await client.get(
                "/_operator/versions", headers={"authorization": "Bearer forged.jwt.value"}
            )
            assert forged.status_code == 401


async def test_off_by_default_nothing_is_mounted(tmp_path: Path) -> None:
    application = build_app(
        {"web": {"use": "framework-fastapi"}, "obs": {"use": "observability"}}, root=tmp_path
    )
    async with application.running(), http_client(application) as client:
        assert (await client.get("/_operator/versions")).status_code == 404
