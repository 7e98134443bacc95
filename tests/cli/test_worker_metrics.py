"""`rainmaker worker` with metrics.worker_port: /metrics (process and job figures) and
/health/* on the worker's own port, through the installed console script."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

SCRIPT = Path(sys.executable).with_name("rainmaker")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_app(root: Path, port: int) -> None:
    (root / "rainmaker.toml").write_text(
        textwrap.dedent(
            f"""
            [app]
            name = "workers"

            [patterns.db]
            use = "database-sqlite"
            path = "app.db"

            [patterns.jobs]
            use = "jobs-local"

            [patterns.obs]
            use = "observability"
            metrics.worker_port = {port}
            """
        )
    )


def wait_for(url: str, process: subprocess.Popen[str], timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the worker exited with {process.returncode}")
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_the_worker_serves_metrics_and_health_on_its_port(tmp_path: Path) -> None:
    port = free_port()
    write_app(tmp_path, port)
    env = {**os.environ, "NO_COLOR": "1", "RAINMAKER_PROFILE": ""}
    process = subprocess.Popen(
        [str(SCRIPT), "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        live = wait_for(f"{base}/health/live", process)
        assert live.status_code == 200 and live.json()["role"] == "worker"
        ready = httpx.get(f"{base}/health/ready")
        assert ready.status_code == 200, ready.text
        detail = httpx.get(f"{base}/health").json()
        assert set(detail["patterns"]) == {"db", "jobs", "obs"}
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert "process_resident_memory_bytes" in text  # the worker process's own figures
        # The namespace defaults to the app's name; health is a state set.
        health = 'workers_pattern_health{instance="jobs",pattern="jobs-local",'
        assert health + 'workers_pattern_health="up"} 1.0' in text
        queue = 'workers_jobs_queue_depth{instance="jobs",queue="default",state="waiting"}'
        assert queue in text
        assert 'workers_jobs_outcomes_total{instance="jobs",outcome="succeeded"}' in text
        assert "workers_event_loop_lag_seconds_count" in text
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "observability.worker_metrics" in output
