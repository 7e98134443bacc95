"""Real processes for the end-to-end tests: ``rainmaker db upgrade``, ``rainmaker run`` and
``rainmaker worker`` on the demo SaaS, on free loopback ports, killed at the end.

:func:`saas_processes` migrates first (so the web server and the worker never race to
create tables), starts both processes with their output in log files, polls
``/health/ready`` and, on exit, sends each one SIGINT (graceful drain) and kills whatever
is still running after :data:`STOP_TIMEOUT`.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from rainmaker.testing.smtp_server import free_port

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "examples" / "saas"
RAINMAKER = [sys.executable, "-m", "rainmaker"]
READY_TIMEOUT = 45.0
STOP_TIMEOUT = 15.0


@dataclass
class SaasProcesses:
    """The running demo: its base URL, the processes and where their logs go.

    ``base_urls`` lists every web process (``base_url`` is the first one's).
    """

    base_url: str
    web: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    logs: Path
    base_urls: list[str] = field(default_factory=list)
    more_webs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        names = ["migrate", "web", *(f"web{n}" for n in range(2, len(self.more_webs) + 2))]
        for name in (*names, "worker"):
            path = self.logs / f"{name}.log"
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(parts)


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAINMAKER__")}
    env.pop("RAINMAKER_PROFILE", None)
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            # Tests stop the server at once; the drain delay is for load balancers.
            "RAINMAKER__WEB__SHUTDOWN__DELAY": "0",
            # The composition ships no secrets (make demo generates its own): fresh ones
            # per run, unless the test gives its own.
            "JWT_SECRET": secrets.token_urlsafe(40),
            "PAYMENTS_WEBHOOK_SECRET": "whsec_e2e_" + secrets.token_hex(16),
        }
    )
    # The demo ships no secret (a default in the repository is anyone's, issue 19): each
    # run makes its own, as `make demo` does.
    for name in ("JWT_SECRET", "PAYMENTS_WEBHOOK_SECRET"):
        env.setdefault(name, secrets.token_urlsafe(48))
    env.update(extra)
    return env


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def saas_processes(
    profile: str, env: Mapping[str, str], logs: Path, *, app: Path = APP, webs: int = 1
) -> Iterator[SaasProcesses]:
    """Migrate, then run ``webs`` web servers and a worker of the demo SaaS in ``profile``.

    ``app`` is the demo's folder, or a copy of it with test profiles added.
    """
    environ = _environment(env)
    common = ["--app", str(app), "--profile", profile]
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "migrate.log", "wb") as out:
        migrated = subprocess.run(
            [*RAINMAKER, "db", "upgrade", *common],
            cwd=REPO,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    if migrated.returncode != 0:
        pytest.fail("rainmaker db upgrade failed:\n" + (logs / "migrate.log").read_text())
    started: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for number in range(1, webs + 1):
            port = free_port()
            name = "web" if number == 1 else f"web{number}"
            with open(logs / f"{name}.log", "wb") as web_log:
                started.append(
                    subprocess.Popen(
                        [*RAINMAKER, "run", *common, "--host", "127.0.0.1", "--port", str(port)],
                        cwd=REPO,
                        env=environ,
                        stdout=web_log,
                        stderr=subprocess.STDOUT,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
        with open(logs / "worker.log", "wb") as worker_log:
            worker = subprocess.Popen(
                [*RAINMAKER, "worker", *common],
                cwd=REPO,
                env=environ,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
            )
        started.append(worker)
        running = SaasProcesses(urls[0], started[0], worker, logs, urls, started[1:webs])
        _wait_ready(running)
        yield running
    finally:
        _stop(started)


def _wait_ready(running: SaasProcesses) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = list(running.base_urls or [running.base_url])
    while time.monotonic() < deadline:
        for process in (running.web, *running.more_webs, running.worker):
            if process.poll() is not None:
                pytest.fail(
                    f"a demo process exited with {process.returncode} before the app was "
                    f"ready:\n{running.log_tail()}"
                )
        try:
            if httpx.get(f"{waiting[0]}/health/ready", timeout=2).status_code == 200:
                waiting.pop(0)
                if not waiting:
                    return
                continue
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the demo was not ready within {READY_TIMEOUT}s:\n{running.log_tail()}")
