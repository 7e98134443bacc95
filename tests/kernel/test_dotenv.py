"""An app folder's ``.env`` fills in the variables the environment does not set.

Before: ``rainmaker new`` wrote a ``.env.example`` "to copy to .env", and nothing read
``.env``; the demo's generated secrets had to be sourced by hand before
``rainmaker run --app examples/saas``. Now the kernel reads ``<app>/.env`` (python-dotenv)
wherever a composition is read from the process environment, and the real environment
always wins.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rainmaker.kernel.composition import read_composition
from rainmaker.kernel.loading import load

APP = """
[app]
name = "dotted"

[patterns.db]
use = "database-sqlite"
path = "${DB_FILE}"
"""
SAAS = Path(__file__).parents[2] / "examples" / "saas"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "rainmaker.toml").write_text(APP)
    (tmp_path / ".env").write_text(
        "# a comment\nexport DB_FILE=from-dotenv.db\nRAINMAKER__DB__BUSY_TIMEOUT='7'\n"
    )
    monkeypatch.delenv("DB_FILE", raising=False)
    return tmp_path


def test_variables_and_overrides_come_from_the_app_folders_dotenv(app: Path) -> None:
    application = load(app, configure_logs=False)
    settings = application.instances["db"].settings
    assert str(settings.path).endswith("from-dotenv.db")  # type: ignore[attr-defined]
    assert settings.busy_timeout == 7  # type: ignore[attr-defined]


def test_the_real_environment_wins(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_FILE", "from-environment.db")
    composition = read_composition(app / "rainmaker.toml")
    assert composition.instances["db"].values["path"] == "from-environment.db"


def test_an_explicit_environment_reads_no_file(app: Path) -> None:
    composition = read_composition(app / "rainmaker.toml", environ={})
    assert [p.message for p in composition.problems] == [
        "environment variable DB_FILE is not set"
    ]


def test_the_installed_command_reads_it(app: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DB_FILE"}
    result = subprocess.run(
        [sys.executable, "-m", "rainmaker", "config", "show", "--app", str(app), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "from-dotenv.db" in json.dumps(json.loads(result.stdout))


def test_the_demo_appends_its_secrets_and_keeps_the_developers_lines(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("saas_demo", SAAS / "demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    path = tmp_path / ".env"
    path.write_text("SMTP_HOST=mail.internal")  # no newline at the end
    generated = demo.dev_secrets(path)
    text = path.read_text()
    assert text.startswith("SMTP_HOST=mail.internal\n")
    assert all(f"{name}={value}" in text for name, value in generated.items())
    assert demo.dev_secrets(path) == generated  # read back, not generated again
