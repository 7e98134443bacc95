"""`rainmaker check` and `plan` report, before anything starts, a route that injects what no
composed pattern provides (the installed console script, in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.http.conftest import AUTH, write_app

RAINMAKER = Path(sys.executable).parent / "rainmaker"

WITHOUT_AUTH = """
[patterns.db]
use = "database-sqlite"
path = "notes.db"

[patterns.notes]
use = "notes"
"""

pytestmark = pytest.mark.slow


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [str(RAINMAKER), *args, "--app", str(cwd)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", ["check", "plan"])
def test_a_route_needing_a_capability_nobody_provides_is_a_composition_error(
    tmp_path: Path, command: str
) -> None:
    folder = write_app(tmp_path, WITHOUT_AUTH)
    done = _run(command, cwd=folder)
    assert done.returncode == 2, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "notes.router" in output
    assert "GET /notes/me" in output
    assert "Auth" in output and "no composed pattern provides it" in output
    assert "add an instance of auth-jwt" in output
    assert "Traceback" not in output


def test_an_optional_capability_is_a_warning_and_the_app_checks(tmp_path: Path) -> None:
    folder = write_app(tmp_path, AUTH + WITHOUT_AUTH)
    done = _run("check", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "GET /notes/mail" in done.stderr
    assert "Mailer" in done.stderr and "503" in done.stderr
