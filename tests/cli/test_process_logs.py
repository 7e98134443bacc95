"""What `rainmaker run` and `rainmaker worker` write to their logs, as an operator reads them.

Every line names the process role (web and worker processes started from one composition
would otherwise write identical start events), `run` says the address it serves on, and
the worker's stop event carries a wall-clock start time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

SCRIPT = Path(sys.executable).with_name("rainmaker")

APP = """\
[app]
name = "roles"
log_format = "json"

[patterns.web]
use = "framework-fastapi"

[patterns.db]
use = "database-sqlite"
path = "roles.db"

[patterns.jobs]
use = "jobs-local"
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _events(output: str) -> list[dict[str, Any]]:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def _run_until(
    command: list[str], cwd: Path, ready: str, then: Any = None
) -> tuple[int, list[dict[str, Any]]]:
    """Start ``command``, wait for the ``ready`` event, run ``then()``, SIGTERM, collect."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if f'"event":"{ready}"' in line.replace(" ", ""):
                break
        if then is not None:
            then()
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
        seen.append(rest)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, _events("".join(seen))


def test_run_names_its_role_and_address(tmp_path: Path) -> None:
    (tmp_path / "rainmaker.toml").write_text(APP)
    port = _free_port()

    def probe() -> None:
        assert httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=10).status_code == 200

    code, events = _run_until(
        [str(SCRIPT), "run", "--port", str(port)], tmp_path, "server.listening", probe
    )
    assert code == 0, events
    [listening] = [e for e in events if e["event"] == "server.listening"]
    assert listening["url"] == f"http://127.0.0.1:{port}"
    assert events and all(event.get("role") == "web" for event in events), events


def test_worker_names_its_role_and_a_wall_clock_start(tmp_path: Path) -> None:
    (tmp_path / "rainmaker.toml").write_text(APP)
    code, events = _run_until([str(SCRIPT), "worker"], tmp_path, "jobs.worker_started")
    assert code == 0, events
    assert events and all(event.get("role") == "worker" for event in events), events
    [stopped] = [e for e in events if e["event"] == "jobs.worker_stopped"]
    started = datetime.fromisoformat(stopped["started_at"])
    assert started.tzinfo is not None and started.year >= 2026
