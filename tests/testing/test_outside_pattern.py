"""A pattern installed from outside the tree is served through every extension point.

``tests/testing/outside`` holds a minimal installed distribution (a package and its
``.dist-info`` with entry points), put on ``PYTHONPATH`` for these subprocesses only, so
the rest of the suite never sees it. It contributes, using only the public API, what the
built-in database and jobs patterns contribute: migrations that ``rainmaker db`` runs, a
loop ``rainmaker worker`` runs and drains, and a ``rainmaker tally`` command group. Its
entry points also hold two malformed command groups (one clashing with ``db``, one that
does not import): each is left out with a warning, and every other command still works.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

OUTSIDE = Path(__file__).resolve().parent / "outside"
SCRIPT = Path(sys.executable).with_name("rainmaker")

COMPOSITION = """\
[app]
name = "counting"

[patterns.db]
use = "database-sqlite"
path = "counting.db"

[patterns.tally]
use = "tally"
marker = "{marker}"

[patterns.dashboard]
use = "dev-dashboard"

[patterns.web]
use = "framework-fastapi"
"""


def rainmaker(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        timeout=120,
    )


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(OUTSIDE), "COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "rainmaker.toml").write_text(COMPOSITION.format(marker=tmp_path / "tally.log"))
    return tmp_path


def test_the_contributed_command_group_is_served(app: Path) -> None:
    listed = rainmaker("--help", cwd=app)
    assert listed.returncode == 0, listed.stderr
    assert "tally" in listed.stdout and "Tally: counts things." in listed.stdout
    hello = rainmaker("tally", "hello", cwd=app)
    assert hello.returncode == 0, hello.stderr
    assert hello.stdout.strip() == "tally says hello"
    assert rainmaker("tally", "fail", cwd=app).returncode == 1


def test_malformed_command_groups_are_left_out_with_a_warning(app: Path) -> None:
    result = rainmaker("--help", cwd=app)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tally-pattern: command group 'db' clashes with an existing `rainmaker db`" in (
        result.stderr
    )
    assert "tally-pattern: command group 'broken'" in result.stderr
    assert "failed to load" in result.stderr
    # A built-in command does not even look at contributions: no warning, no delay.
    checked = rainmaker("check", cwd=app)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "warning" not in checked.stderr
    # The built-in db group is still the real one.
    assert "Database migrations" in rainmaker("db", "--help", cwd=app).stdout


def test_rainmaker_db_runs_the_outside_patterns_migrations(app: Path) -> None:
    upgraded = rainmaker("db", "upgrade", cwd=app)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "tally" in upgraded.stdout and "tally0001" in upgraded.stdout
    status = rainmaker("db", "status", cwd=app)
    assert status.returncode == 0, status.stderr
    assert "tally" in status.stdout
    down = rainmaker("db", "downgrade", "-1", "--pattern", "tally", cwd=app)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "tally0001 -> base" in down.stdout


def test_rainmaker_worker_runs_and_drains_the_outside_loop(app: Path) -> None:
    marker = app / "tally.log"
    worker = subprocess.Popen(
        [str(SCRIPT), "worker", "--concurrency", "3"],
        cwd=app,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
        assert marker.exists(), worker.stderr.read() if worker.stderr else ""
        assert marker.read_text() == "running concurrency=3\n"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert marker.read_text() == "running concurrency=3\ndrained\n"


def test_the_dashboard_shows_the_outside_patterns_panels(app: Path) -> None:
    """The dev dashboard reads the contributed panels; a failing one shows why."""
    script = f"""
import asyncio, httpx, rainmaker

async def main():
    app = rainmaker.load({str(app)!r}, configure_logs=False)
    async with app.running():
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            state = (await http.get("/_rainmaker/api/state")).json()
    for panel in state["panels"]:
        if panel["instance"] == "tally":
            print(panel["title"], "|", panel["rows"], "|", panel["problem"])

asyncio.run(main())
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Tallies | [['apples', '3'], ['pears', '5']] | " in result.stdout
    assert "Broken tallies | [] | could not be read: RuntimeError: the tally store is away" in (
        result.stdout
    )
