"""Probes pass the trusted-host check; nothing else does (issue 19 follow-up).

Orchestrators probe by address: the kubelet sends the pod IP as ``Host``, Docker's
``HEALTHCHECK`` ``127.0.0.1``, a cloud load balancer the target's IP. With
``trusted_hosts`` set those probes got 400 and the pod never became ready. ``GET`` of
exactly ``/health/live`` and ``/health/ready`` now answer for any Host (the same bare
status for every Host, no URL in it); every other path, the ``/health`` detail included,
still needs a trusted Host. Checked through the installed ``rainmaker`` script over real
HTTP, as the kubelet sees it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rainmaker.testing.harness import build_app
from rainmaker.testing.smtp_server import free_port

SCRIPT = Path(sys.executable).with_name("rainmaker")
TRUSTED = "api.example.com"
POD_IP = "10.1.2.3"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``rainmaker run`` of an app trusting only ``api.example.com``, on loopback."""
    folder = tmp_path_factory.mktemp("probes")
    (folder / "rainmaker.toml").write_text(
        '[app]\nname = "probes"\n\n[patterns.http]\nuse = "framework-fastapi"\n'
        f'trusted_hosts = ["{TRUSTED}"]\naccess_log = false\n'
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAINMAKER")}
    process = subprocess.Popen(
        [str(SCRIPT), "run", "--app", str(folder), "--port", str(port)],
        env={**env, "NO_COLOR": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health/live", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"rainmaker run did not serve (exit {process.poll()})")
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("host", [POD_IP, f"{POD_IP}:8000", "127.0.0.1:8000", "evil.example"])
@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_probes_answer_for_any_host(base_url: str, host: str, path: str) -> None:
    answer = httpx.get(base_url + path, headers={"Host": host})
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) <= {"status", "state"}  # a bare status, no URL, no detail


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),  # the detail: paths and topology
        ("GET", "/health/ready/"),  # exact paths only: the slash redirect is not a probe
        ("GET", "/health/live/x"),
        ("POST", "/health/ready"),
        ("HEAD", "/health/ready"),
        ("GET", "/openapi.json"),
        ("GET", "/nowhere"),
    ],
)
def test_everything_else_still_needs_a_trusted_host(base_url: str, method: str, path: str) -> None:
    answer = httpx.request(method, base_url + path, headers={"Host": POD_IP})
    assert answer.status_code == 400, answer.text
    if method != "HEAD":  # a HEAD answer has no body
        assert answer.json()["code"] == "untrusted_host"
    trusted = httpx.request(method, base_url + path, headers={"Host": TRUSTED})
    assert trusted.status_code != 400, trusted.text


async def test_probes_under_a_mount_prefix(tmp_path: Path) -> None:
    """The exempt paths follow the HTTP instance's mount and ``health.path``."""
    app = build_app(
        {
            "http": {
                "use": "framework-fastapi",
                "access_log": False,
                "mount": "/api",
                "trusted_hosts": [TRUSTED],
                "health": {"path": "/healthz"},
            }
        },
        root=tmp_path,
    )
    await app.start()
    try:
        transport = httpx.ASGITransport(app=app, client=("10.0.0.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{POD_IP}") as http:
            assert (await http.get("/api/healthz/ready")).status_code == 200
            assert (await http.get("/api/healthz/live")).status_code == 200
            assert (await http.get("/health/ready")).status_code == 400
            assert (await http.get("/healthz/ready")).status_code == 400
    finally:
        await app.stop()
