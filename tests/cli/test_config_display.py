"""Settings as people see them, through the installed console script.

``config show`` and ``pattern info`` share the kernel's one formatter: values read as they
are written in TOML, secrets are masked by type (never by name), a wrong value says what
the schema expects, and ``""`` unsets an optional setting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("rainmaker")

PATTERN = """
from datetime import timedelta

from pydantic import Field, SecretStr

from rainmaker import Module, Pattern, Settings


class PasswordPolicy(Settings):
    min_length: int = 10
    reject_common: bool = True


class Shown(Settings):
    name: str = "shown"
    verify_token_ttl: timedelta = Field(timedelta(minutes=15), description="Named like a secret.")
    password: PasswordPolicy = PasswordPolicy()
    verbose: bool = True
    nickname: str | None = None
    url: str = "postgresql://app:url-pass-123@db/app"
    api_key: SecretStr = SecretStr("typed-secret-123")
    signing: str = Field("marked-secret-123", json_schema_extra={"secret": True})
    port: int | None = Field(8000, ge=1, le=65535, description="A port.")


pattern = Pattern(id="shown", version="1.0.0", name="Shown", settings=Shown, factory=Module)
"""


def rainmaker(
    *args: str, app: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, cwd=app, env=full_env, timeout=120
    )


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "shown_pattern.py").write_text(PATTERN)
    (tmp_path / "rainmaker.toml").write_text(
        '[app]\nname = "shown"\nlocal_patterns = ["shown_pattern:pattern"]\n\n'
        '[patterns.s]\nuse = "shown"\nnickname = "${NICKNAME:-}"\n'
    )
    return tmp_path


def _config(app: Path, *extra: str) -> dict[str, str]:
    """Instance ``s``'s settings as ``config show --json`` shows them."""
    result = rainmaker("config", "show", "--json", *extra, app=app)
    assert result.returncode == 0, result.stderr
    return {row["key"]: row["value"] for row in json.loads(result.stdout) if row["instance"] == "s"}


def test_config_show_writes_values_as_toml_and_masks_by_type(app: Path) -> None:
    values = _config(app)
    assert values["name"] == '"shown"'  # TOML quotes, not Python's
    assert values["verify_token_ttl"] == "900"  # a duration, shown, in seconds
    assert values["password"] == "{ min_length = 10, reject_common = true }"  # a policy table
    assert values["verbose"] == "true"
    assert values["url"] == '"postgresql://app:********@db/app"'
    assert values["api_key"] == "********"  # SecretStr
    assert values["signing"] == "********"  # marked secret in its schema
    assert values["port"] == "8000"


def test_an_empty_string_unsets_an_optional_setting(app: Path) -> None:
    values = _config(app, "--set", "s.port=")
    assert values["nickname"] == "(not set)"  # "${NICKNAME:-}" with NICKNAME unset
    assert values["port"] == "(not set)"
    assert "None" not in json.dumps(values)


def test_the_text_table_has_no_python_reprs_or_secrets(app: Path) -> None:
    result = rainmaker("config", "show", app=app)
    assert result.returncode == 0, result.stderr
    for leak in ("url-pass-123", "typed-secret-123", "marked-secret-123"):
        assert leak not in result.stdout
    for repr_text in ("timedelta", "PasswordPolicy(", "True", "None", "'shown'"):
        assert repr_text not in result.stdout


def test_pattern_info_shows_defaults_the_same_way(app: Path) -> None:
    result = rainmaker("pattern", "info", "shown", "--app", str(app), app=app)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "{ min_length = 10, reject_common = true }" in out
    assert '"postgresql://app:********@db/app"' in out
    assert "duration" in out and "900" in out
    for leak in ("url-pass-123", "typed-secret-123", "marked-secret-123", "timedelta", "None"):
        assert leak not in out


def test_a_wrong_type_names_the_expected_type_range_and_an_example(app: Path) -> None:
    result = rainmaker(
        "config", "show", "--set", "s.port=99999", "--set", "s.verbose=maybe", app=app
    )
    assert result.returncode == 2, result.stdout
    text = " ".join(result.stderr.split())  # Rich wraps long lines
    assert "expected an integer from 1 to 65535" in text
    assert "e.g. port = 8000" in text
    assert "expected true or false, e.g. verbose = true" in text
    assert "Traceback" not in result.stderr


def test_the_dashboard_shows_what_config_show_shows(app: Path) -> None:
    """The developer dashboard's settings view, over real HTTP from ``rainmaker run``."""
    import socket
    import time

    import httpx

    toml = (app / "rainmaker.toml").read_text()
    (app / "rainmaker.toml").write_text(
        toml + '\n[patterns.web]\nuse = "framework-fastapi"\n\n'
        '[patterns.dashboard]\nuse = "dev-dashboard"\n'
    )
    expected = _config(app)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [str(SCRIPT), "run", "--app", str(app), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = None
        deadline = time.monotonic() + 60  # a bound for a hung start, not a figure
        while state is None and time.monotonic() < deadline and process.poll() is None:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/_rainmaker/api/state").json()
            except httpx.TransportError:
                time.sleep(0.1)
        assert state is not None, process.communicate(timeout=30)
    finally:
        process.terminate()
        process.communicate(timeout=60)
    shown = {row["key"]: row["value"] for row in state["settings"] if row["instance"] == "s"}
    assert shown == expected
