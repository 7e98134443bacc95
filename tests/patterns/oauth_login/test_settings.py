"""Compositions of ``oauth-login`` through the installed ``rainmaker`` script: a mistake is
exit code 2 naming the key, the client secret never shows, the routes are listed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "client-secret-that-must-never-show"
BASE = """
[app]
name = "sso-app"

[patterns.db]
use = "database-sqlite"
path = "app.db"

[patterns.http]
use = "framework-fastapi"

[patterns.auth]
use = "auth-jwt"
secret = "a-test-secret-that-is-long-enough-for-hs256-0123456789"

[patterns.sso]
use = "oauth-login"
"""


def rainmaker(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("rainmaker", path=str(Path(sys.executable).parent))
    assert script is not None, "the rainmaker script is installed with the package"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAINMAKER")}
    env["CORP_SECRET"] = SECRET
    return subprocess.run(
        [script, *args, "--app", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def app_folder(tmp_path: Path, sso: str) -> Path:
    (tmp_path / "rainmaker.toml").write_text(BASE + sso)
    return tmp_path


@pytest.mark.parametrize(
    ("sso", "words"),
    [
        ('clients = { corp = { client_id = "x" } }', "issuer"),
        ('clients = { corp = { preset = "microsoft", client_id = "x" } }', "tenant"),
        (
            'clients = { corp = { preset = "okta", issuer = "https://a.b", client_id = "x" } }',
            "preset",
        ),
        ('clients = { corp = { issuer = "ftp://id", client_id = "x" } }', "http"),
        ('allowed_origins = ["not a url"]', "origin"),
        ('clients = { corp = { issuer = "https://id.example.com" } }', "client_id"),
    ],
)
def test_a_bad_composition_is_exit_code_2_naming_the_key(
    tmp_path: Path, sso: str, words: str
) -> None:
    result = rainmaker(app_folder(tmp_path, sso), "check")
    assert result.returncode == 2, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "sso" in output and words in output
    assert "Traceback" not in output


def test_the_client_secret_never_shows_and_the_routes_are_listed(tmp_path: Path) -> None:
    folder = app_folder(
        tmp_path,
        'clients = { corp = { issuer = "https://id.example.com", client_id = "x", '
        'client_secret = "${CORP_SECRET}" } }',
    )
    checked = rainmaker(folder, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for command in ("plan", "routes"):
        result = rainmaker(folder, command)
        assert result.returncode == 0, result.stdout + result.stderr
        assert SECRET not in result.stdout + result.stderr
    routes = rainmaker(folder, "routes").stdout
    for path in (
        "/auth/oauth/{provider}/authorize",
        "/auth/oauth/{provider}/callback",
        "/auth/identities/{identity_id}",
    ):
        assert path in routes
