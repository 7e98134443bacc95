"""At the seam: the installed ``rainmaker`` script serves two web processes of one app
(SQLite, auth-jwt with 2FA, rate-limit on the real Redis) over real HTTP. Login attempts
made against both processes share one counter; the whole 2FA login works across them (a
code spent on one is refused on the other); a composition asking for 2FA roles without
2FA exits 2."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest

from rainmaker.testing.smtp_server import free_port
from tests.patterns.auth_jwt.conftest import PASSWORD, SECRET

RAINMAKER = str(Path(sys.executable).parent / "rainmaker")
READY_TIMEOUT = 60.0

COMPOSITION = """
[app]
name = "seam"

[patterns.db]
use = "database-sqlite"
path = "seam.db"

[patterns.auth]
use = "auth-jwt"
secret = "{secret}"
hashing = {{ time_cost = 1, memory_cost = 8, parallelism = 1 }}
rate_limits = {{ login_per_account = {{ attempts = 3, window = 60 }} }}
two_factor = {{ enabled = true, encryption_keys = ["{key}"] }}

[patterns.limits]
use = "rate-limit"
storage_url = "{redis}"
key_prefix = "{prefix}"

# A moving window: a fixed one could reset between two of the test's requests.
[patterns.limits.policies."auth.login_per_account"]
limit = "3/minute"
strategy = "moving-window"
key = "custom"

[patterns.web]
use = "framework-fastapi"
access_log = false
"""


def code(secret: str, offset: int) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(int(time.time() // totp.interval) + offset)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RAINMAKER, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def two_webs(tmp_path: Path, redis_url: str) -> Iterator[list[str]]:
    """Two ``rainmaker run`` processes of one migrated app; their base URLs."""
    prefix = f"rmtest-seam-{uuid.uuid4().hex[:12]}"
    (tmp_path / "rainmaker.toml").write_text(
        COMPOSITION.format(secret=SECRET, key="k" * 40, redis=redis_url, prefix=prefix)
    )
    migrated = run("db", "upgrade", cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for number in range(2):
            port = free_port()
            # The child keeps its own copy of the descriptor: ours can close at once.
            with open(tmp_path / f"web{number}.log", "wb") as log:
                processes.append(
                    subprocess.Popen(
                        [RAINMAKER, "run", "--host", "127.0.0.1", "--port", str(port)],
                        cwd=tmp_path,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + READY_TIMEOUT
        waiting = list(urls)
        while waiting and time.monotonic() < deadline:
            for process in processes:
                if process.poll() is not None:
                    logs = "".join(p.read_text() for p in tmp_path.glob("web*.log"))
                    pytest.fail(f"a web process exited early:\n{logs[-4000:]}")
            try:
                if httpx.get(f"{waiting[0]}/health/ready", timeout=2).status_code == 200:
                    waiting.pop(0)
                    continue
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert not waiting, "the web processes did not get ready"
        yield urls
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        import redis

        client = redis.Redis.from_url(redis_url)
        doomed = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if doomed:
            client.delete(*doomed)
        client.close()


def test_two_processes_share_limits_and_spent_codes(two_webs: list[str]) -> None:
    first, second = (httpx.Client(base_url=url, timeout=10) for url in two_webs)
    with first, second:
        email = f"seam-{uuid.uuid4().hex[:8]}@example.com"
        created = first.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text

        # Attempts against either process count under one Redis counter (3 allowed).
        wrong = {"email": f"x-{email}", "password": "not the password"}
        answers = [c.post("/auth/login", json=wrong) for c in (first, second, first, second)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        assert answers[3].headers["ratelimit-limit"] == "3"

        tokens = first.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        secret = first.post("/auth/2fa/enrol", headers=headers).json()["secret"]
        confirmed = second.post(
            "/auth/2fa/confirm", json={"code": code(secret, 0)}, headers=headers
        )
        assert confirmed.status_code == 200, confirmed.text

        challenge = second.post("/auth/login", json={"email": email, "password": PASSWORD})
        token = challenge.json()["challenge_token"]
        body = {"challenge_token": token, "code": code(secret, 1)}
        done = first.post("/auth/login/2fa", json=body)
        assert done.status_code == 200, done.text
        # A fresh login on the other process: the spent code is refused there too.
        again = second.post("/auth/login", json={"email": email, "password": PASSWORD})
        body = {"challenge_token": again.json()["challenge_token"], "code": code(secret, 1)}
        replay = second.post("/auth/login/2fa", json=body)
        assert replay.status_code == 401
        assert replay.headers["content-type"].startswith("application/problem+json")
        assert replay.json()["code"] == "two_factor_code_reused"


def test_required_roles_without_two_factor_is_a_composition_error(tmp_path: Path) -> None:
    (tmp_path / "rainmaker.toml").write_text(
        f"""
[app]
name = "bad"

[patterns.db]
use = "database-sqlite"

[patterns.auth]
use = "auth-jwt"
secret = "{SECRET}"
two_factor = {{ required_roles = ["admin"] }}
"""
    )
    checked = run("check", cwd=tmp_path)
    assert checked.returncode == 2, checked.stdout + checked.stderr
    output = checked.stdout + checked.stderr
    assert "two_factor" in output and "Traceback" not in output
    assert SECRET not in output
