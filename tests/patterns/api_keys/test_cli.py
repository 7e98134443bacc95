"""At the seam: the installed ``rainmaker`` serves an app with organizations and
``api-keys`` over real HTTP (an organization's key acting as the organization), refuses
an invalid ``api-keys`` composition with exit code 2, and validates the pattern."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

RAINMAKER = str(Path(sys.executable).with_name("rainmaker"))
READY_WITHIN = 30.0
PASSWORD = "correct horse battery staple"

COMPOSITION = """
[app]
name = "keys-seam"
log_level = "warning"

[patterns.db]
use = "database-sqlite"
path = "var/app.db"
auto_migrate = true

[patterns.auth]
use = "auth-jwt"
secret = "{secret}"

[patterns.mail]
use = "email-console"
default_sender = "no-reply@example.com"

[patterns.orgs]
use = "organizations"

[patterns.keys]
use = "api-keys"
scopes = {scopes}

[patterns.http]
use = "framework-fastapi"
"""


def write_app(folder: Path, scopes: str = '{ "projects:read" = "read projects" }') -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rainmaker.toml").write_text(
        COMPOSITION.format(secret=secrets.token_urlsafe(48), scopes=scopes)
    )
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``rainmaker run`` of the app on a free loopback port; its base URL."""
    app = write_app(tmp_path / "app")
    port = free_port()
    process = subprocess.Popen(
        [RAINMAKER, "run", "--app", str(app), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "RAINMAKER_PROFILE": "development"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_WITHIN
        while True:
            if process.poll() is not None:
                raise AssertionError(f"rainmaker run exited: {process.communicate()}")
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("rainmaker run was not ready in time")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def test_an_org_key_acts_as_its_organization_over_real_http(served: str) -> None:
    with httpx.Client(base_url=served, timeout=10) as client:
        email = f"ada-{secrets.token_hex(4)}@example.com"
        body = {"email": email, "password": PASSWORD}
        assert client.post("/auth/register", json=body).status_code in (200, 201)
        login = client.post("/auth/login", json=body)
        assert login.status_code == 200, login.text
        ada = {"Authorization": f"Bearer {login.json()['access_token']}"}
        made = client.post("/orgs", json={"slug": "acme", "name": "Acme"}, headers=ada)
        assert made.status_code == 201, made.text
        org = made.json()
        other = client.post("/orgs", json={"slug": "other", "name": "Other"}, headers=ada)
        assert other.status_code == 201, other.text

        unknown = client.post(
            f"/orgs/{org['id']}/api-keys", json={"name": "ci", "scopes": ["x:y"]}, headers=ada
        )
        assert unknown.status_code == 422
        assert unknown.headers["content-type"].startswith("application/problem+json")
        assert unknown.json()["code"] == "api_key_scope_unknown"

        created = client.post(
            f"/orgs/{org['id']}/api-keys",
            json={"name": "ci", "scopes": ["projects:read"]},
            headers=ada,
        )
        assert created.status_code == 201, created.text
        key = {"X-API-Key": created.json()["key"]}
        # The organizations pattern's own route, through CurrentOrg, sees the org's key.
        seen = client.get(f"/orgs/{org['id']}", headers=key)
        assert seen.status_code == 200, seen.text
        assert seen.json()["id"] == org["id"]
        refused = client.get(f"/orgs/{other.json()['id']}", headers=key)
        assert refused.status_code == 404 and refused.json()["code"] == "org_not_found"
        managing = client.get(f"/orgs/{org['id']}/api-keys", headers=key)
        assert managing.status_code == 403 and managing.json()["code"] == "org_role_required"


def test_an_invalid_api_keys_composition_exits_2(tmp_path: Path) -> None:
    app = write_app(tmp_path / "bad", scopes='{ "has space" = "no" }')
    checked = subprocess.run(
        [RAINMAKER, "check", "--app", str(app)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert "has space" in checked.stdout + checked.stderr
    assert "Traceback" not in checked.stdout + checked.stderr


def test_the_installed_cli_validates_the_pattern(tmp_path: Path) -> None:
    validated = subprocess.run(
        [RAINMAKER, "pattern", "validate", "api-keys"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "no findings" in validated.stdout
