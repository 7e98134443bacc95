"""``rainmaker routes`` and ``rainmaker run`` against a real server process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.patterns.http.conftest import MakeApp

pytestmark = pytest.mark.slow

READY_WITHIN = 15.0


def rainmaker_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from rainmaker.cli.main import main; main()", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A ``rainmaker run`` subprocess on a free loopback port."""

    def __init__(self, app: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            rainmaker_cmd("run", "--app", str(app), "--port", str(self.port), *extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.process.communicate()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError("server not ready in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


@pytest.fixture
def server_factory() -> Iterator[type[Server]]:
    started: list[Server] = []

    class Tracked(Server):
        def __init__(self, app: Path, *extra: str) -> None:
            super().__init__(app, *extra)
            started.append(self)

    yield Tracked
    for server in started:
        server.stop()


def test_routes_lists_method_path_owner_and_auth(make_app: MakeApp) -> None:
    result = subprocess.run(
        rainmaker_cmd("routes", "--app", str(make_app()), "--json"),
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {(tuple(r["methods"]), r["path"]): r for r in json.loads(result.stdout)}
    item = rows[(("GET",), "/api/items/{item_id}")]
    assert (item["instance"], item["pattern"], item["auth"]) == ("items", "items", "no")
    assert rows[(("GET",), "/api/private")]["auth"] == "yes"
    assert rows[(("GET",), "/api/maybe")]["auth"] == "optional"
    assert rows[(("GET",), "/health/ready")]["pattern"] == "framework-fastapi"
    table = subprocess.run(
        rainmaker_cmd("routes", "--app", str(make_app())), capture_output=True, text=True
    )
    assert "/api/items/{item_id}" in table.stdout and "items (items)" in table.stdout


def test_run_serves_problem_json_and_drains_on_sigterm(
    make_app: MakeApp, server_factory: type[Server]
) -> None:
    app = make_app(http="[patterns.http.shutdown]\ndelay = 1.0\ntimeout = 10")
    server = server_factory(app)
    server.wait_ready()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for path, status, code in [
            ("/nowhere", 404, "not_found"),
            ("/api/items/abc", 422, "validation_failed"),
            ("/api/boom", 500, "internal_error"),
            ("/api/limited", 429, "rate_limited"),
        ]:
            response = client.get(path)
            assert response.status_code == status
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == code
        assert client.delete("/api/items/1").status_code == 405
        assert client.post("/api/echo", content=b"x" * 2_000_000).status_code == 413
        traced = client.get("/api/items/1", headers={"X-Request-ID": "sigterm-test-1"})
        assert traced.headers["x-request-id"] == "sigterm-test-1"

        slow: dict[str, httpx.Response] = {}
        request = threading.Thread(
            target=lambda: slow.setdefault("r", client.get("/api/slow", params={"seconds": 2}))
        )
        request.start()
        time.sleep(0.3)  # let the slow request reach the app
        server.process.send_signal(signal.SIGTERM)
        # Readiness flips while the server still accepts connections (the delay).
        for _ in range(40):
            ready = httpx.get(f"{server.url}/health/ready", timeout=2)
            if ready.status_code == 503:
                break
            time.sleep(0.02)
        assert ready.status_code == 503 and ready.json()["state"] == "draining"
        request.join(timeout=15)
    assert slow["r"].status_code == 200 and slow["r"].json() == {"slept": 2.0}
    _out, err = server.process.communicate(timeout=15)
    assert server.process.returncode == 0, err
    assert "Traceback" in err  # the 500's full error is in the log…
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "http.request"]
    assert any(line.get("request_id") == "sigterm-test-1" for line in access)
    assert "app.stopped" in err


def test_invalid_composition_exits_2_with_the_problems(make_app: MakeApp) -> None:
    app = make_app(
        items='middleware_name = "a"\nmiddleware_before = ["b"]',
        extra='[patterns.b]\nuse = "items"\nmount = "/b"\nmiddleware_name = "b"\n'
        'middleware_before = ["a"]\n',
    )
    result = subprocess.run(
        rainmaker_cmd("run", "--app", str(app), "--port", str(free_port())),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert re.search(r"middleware order conflict: (a -> b -> a|b -> a -> b)", result.stderr)


def test_startup_failure_exits_1_naming_the_pattern(make_app: MakeApp) -> None:
    result = subprocess.run(
        rainmaker_cmd("run", "--app", str(make_app(items="fail_start = true")),
                      "--port", str(free_port())),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "items (items) failed to start: ConnectionError" in result.stderr
    assert "Traceback" not in result.stderr
