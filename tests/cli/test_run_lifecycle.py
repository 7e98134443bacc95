"""``rainmaker run`` as a developer drives it, through the installed console script:
``--reload`` follows the composition file, Ctrl-C, and a pattern whose start fails.

No test asserts a duration: what happened is read from the process's JSON log lines, its
exit code and its error output; timeouts only keep a broken run from hanging the suite.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

SCRIPT = Path(sys.executable).with_name("rainmaker")
WITHIN = 30.0  # a bound for a hung process, not a figure anyone asserts

APP = """
[app]
name = "lifecycle"
log_format = "json"

[patterns.web]
use = "framework-fastapi"
title = "{title}"

[patterns.web.shutdown]
delay = 60.0
timeout = 10.0

[profiles.production.app]
log_level = "info"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Run:
    """A ``rainmaker run`` process on a free loopback port."""

    def __init__(self, app: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(SCRIPT), "run", "--app", str(app), "--port", str(self.port), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "PYTHONFAULTHANDLER": "1",
                "NO_COLOR": "1",
                "COLUMNS": "200",
            },
        )
        self.stderr = ""

    def get(self, path: str) -> httpx.Response | None:
        try:
            return httpx.get(f"{self.url}{path}", timeout=2)
        except httpx.TransportError:
            return None

    def wait_for(self, path: str, check: Any) -> httpx.Response:
        deadline = time.monotonic() + WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"rainmaker run exited: {self.process.communicate()}")
            response = self.get(path)
            if response is not None and check(response):
                return response
            time.sleep(0.1)
        raise AssertionError(f"{path} never answered as expected")

    def finish(self) -> int:
        try:
            _out, self.stderr = self.process.communicate(timeout=WITHIN)
        except subprocess.TimeoutExpired:
            # Hung: faulthandler prints every thread's stack on SIGABRT, for the report.
            self.process.send_signal(signal.SIGABRT)
            _out, self.stderr = self.process.communicate(timeout=WITHIN)
            raise AssertionError(f"rainmaker run did not stop:\n{self.stderr}") from None
        return self.process.returncode

    def events(self, name: str) -> list[dict[str, Any]]:
        lines = (line for line in self.stderr.splitlines() if line.startswith("{"))
        return [e for e in map(json.loads, lines) if e.get("event") == name]


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        if run.process.poll() is None:
            run.process.kill()
            run.process.communicate()


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "rainmaker.toml").write_text(APP.format(title="first"))
    return tmp_path


def _title(response: httpx.Response) -> str:
    return str(response.json()["info"]["title"])


def test_reload_restarts_on_an_edited_composition(app: Path, runs: list[Run]) -> None:
    run = Run(app, "--reload")
    runs.append(run)
    run.wait_for("/openapi.json", lambda r: r.status_code == 200 and _title(r) == "first")
    (app / "rainmaker.toml").write_text(APP.format(title="second"))
    run.wait_for("/openapi.json", lambda r: r.status_code == 200 and _title(r) == "second")
    run.process.send_signal(signal.SIGINT)
    run.finish()


def test_development_ctrl_c_skips_the_load_balancer_delay(app: Path, runs: list[Run]) -> None:
    run = Run(app)  # the development profile, shutdown.delay = 60
    runs.append(run)
    run.wait_for("/health/ready", lambda r: r.status_code == 200)
    run.process.send_signal(signal.SIGINT)
    assert run.finish() == 0, run.stderr
    [draining] = run.events("server.draining")
    assert draining["delay_s"] == 0
    assert run.events("app.stopped")


def test_a_second_ctrl_c_stops_at_once_in_production(app: Path, runs: list[Run]) -> None:
    run = Run(app, "--profile", "production")
    runs.append(run)
    run.wait_for("/health/ready", lambda r: r.status_code == 200)
    run.process.send_signal(signal.SIGINT)
    # The first one drains: readiness fails while the server keeps answering.
    run.wait_for("/health/ready", lambda r: r.status_code == 503)
    run.process.send_signal(signal.SIGINT)
    assert run.finish() == 0, run.stderr
    [draining] = run.events("server.draining")
    assert draining["delay_s"] == 60
    [stopping] = run.events("server.stopping")
    assert stopping["waits_for_requests"] is False
    assert run.events("app.stopped")


FAILING = """
from rainmaker import Capability, Module, Pattern, Settings


class Store: ...


StoreCap = Capability("Store", Store)


class StoreModule(Module[Settings]):
    async def start(self) -> None:
        self.ctx.services.register(StoreCap, Store())


class Broken(Module[Settings]):
    async def start(self) -> None:
        raise ConnectionRefusedError("nobody listens on 127.0.0.1:1")


store = Pattern(id="store", version="1.0.0", name="Store", settings=Settings,
                factory=StoreModule, provides=[StoreCap])
broken = Pattern(id="broken", version="1.0.0", name="Broken", settings=Settings,
                 factory=Broken, requires=[StoreCap])
"""


def test_a_failing_start_says_the_fix_the_debug_flag_and_what_was_stopped(
    tmp_path: Path,
) -> None:
    (tmp_path / "failing_patterns.py").write_text(FAILING)
    (tmp_path / "rainmaker.toml").write_text(
        '[app]\nname = "failing"\n'
        'local_patterns = ["failing_patterns:store", "failing_patterns:broken"]\n\n'
        '[patterns.db]\nuse = "store"\n\n[patterns.uses_db]\nuse = "broken"\n\n'
        '[patterns.web]\nuse = "framework-fastapi"\n'
    )
    result = subprocess.run(
        [str(SCRIPT), "run", "--app", str(tmp_path), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    assert result.returncode == 1  # a runtime failure, as the README documents
    err = result.stderr
    assert "uses_db (broken) failed to start: ConnectionRefusedError" in err
    assert "fix: check the settings of [patterns.uses_db]" in err
    assert "started before it and stopped again: db" in err
    assert "run again with --debug for the traceback" in err
    assert "Traceback" not in err

    debug = subprocess.run(
        [str(SCRIPT), "--debug", "run", "--app", str(tmp_path), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "run again with --debug" not in debug.stderr


def test_sigterm_still_waits_for_the_load_balancer_in_development(
    app: Path, runs: list[Run]
) -> None:
    run = Run(app)
    runs.append(run)
    run.wait_for("/health/ready", lambda r: r.status_code == 200)
    run.process.send_signal(signal.SIGTERM)  # an orchestrator, not a person
    run.wait_for("/health/ready", lambda r: r.status_code == 503)
    run.process.send_signal(signal.SIGTERM)  # a second one skips the rest of the delay
    assert run.finish() == 0, run.stderr
    [draining] = run.events("server.draining")
    assert draining["delay_s"] == 60
    [stopping] = run.events("server.stopping")
    assert stopping["waits_for_requests"] is True
