"""The ``Host`` header is the client's: it must never become the origin of a redirect, and
serving any host outside development is reported (issue 19, finding 11)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rainmaker.cli.main import app as cli
from rainmaker.patterns.http.settings import HttpSettings
from rainmaker.patterns.http.trusted_hosts import host_free_location
from rainmaker.testing.harness import build_app, composition_text


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP pattern with its defaults (trusted_hosts = '*'), called from loopback."""
    app = build_app({"http": {"use": "framework-fastapi", "access_log": False}}, root=tmp_path)
    await app.start()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await app.stop()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8443", "EVIL.example"])
async def test_slash_redirects_never_point_at_the_host_header(
    client: httpx.AsyncClient, host: str
) -> None:
    answer = await client.get("/health/", headers={"Host": host})
    assert 300 <= answer.status_code < 400, answer.text
    location = answer.headers["location"]
    assert location == "/health", location


def test_redirects_to_other_origins_are_left_alone() -> None:
    assert host_free_location(b"https://pay.example/x", scheme="http", host=b"app") == (
        b"https://pay.example/x"
    )
    # Same host, other scheme: an upgrade to https must stay absolute.
    assert host_free_location(b"https://app/x", scheme="http", host=b"app") == b"https://app/x"
    assert host_free_location(b"/already/relative", scheme="http", host=b"app") == (
        b"/already/relative"
    )


@pytest.mark.parametrize(
    "location",
    [b"http://app//evil.example/x", b"http://app/\\evil.example/x", b"http://app/\\/evil.example"],
)
def test_a_relative_location_cannot_become_scheme_relative(location: bytes) -> None:
    relative = host_free_location(location, scheme="http", host=b"app")
    assert relative.startswith(b"/") and not relative.startswith((b"//", b"/\\")), relative


def test_query_and_fragment_survive() -> None:
    assert host_free_location(b"http://app:8000/a?b=1#c", scheme="http", host=b"APP:8000") == (
        b"/a?b=1#c"
    )


def test_any_host_outside_development_is_a_warning() -> None:
    settings = HttpSettings()
    assert settings.configuration_warnings("development") == []
    (warning,) = settings.configuration_warnings("production")
    assert "trusted_hosts" in warning and "api.example.com" in warning
    assert HttpSettings(trusted_hosts=["api.example.com"]).configuration_warnings("staging") == []


def test_check_reports_insecure_settings_in_production(tmp_path: Path) -> None:
    text = composition_text("hosts", {"http": {"use": "framework-fastapi"}})
    text += "\n[profiles.production.patterns.http]\naccess_log = false\n"
    (tmp_path / "rainmaker.toml").write_text(text)
    runner = CliRunner()
    production = runner.invoke(cli, ["check", "--app", str(tmp_path), "--profile", "production"])
    assert production.exit_code == 0, production.output
    lines = [line for line in production.output.splitlines() if line.startswith("warning")]
    assert any("http: trusted_hosts is '*'" in line for line in lines), production.output
    development = runner.invoke(cli, ["check", "--app", str(tmp_path)])
    assert development.exit_code == 0, development.output
    assert "warning" not in development.output
