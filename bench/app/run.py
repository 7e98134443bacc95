"""App benchmark: the demo's ``GET``/``POST /projects`` shape, composed vs hand-written.

Both sides serve the same two routes (see ``composed/benchprojects.py`` and
``handwritten.py``) on one uvicorn worker (uvloop + httptools), each with its access log as
it ships (ours structured, uvicorn's for the hand-written app), logs to /dev/null; wrk
drives each at the same concurrency in interleaved rounds, on SQLite and on PostgreSQL
(127.0.0.1:5432, database ``bench_app``, created when missing), Redis 127.0.0.1:6379 db 5
for the cache and the jobs. Usage::

    bench/app/run.sh [--rounds 3] [--seconds 10] [--connections 32] [--only sqlite]

Reported per route and database: req/s, p99 and the server's CPU time per request (the
steadier figure on a shared machine), and the ratios composed / hand-written.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]
from bench.http.run import cpu_seconds, free_port  # noqa: E402
from bench.results import Result as Row  # noqa: E402
from bench.results import write_results  # noqa: E402

PYTHON = sys.executable
REDIS_URL = "redis://127.0.0.1:6379/5"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
PASSWORD = "bench password that is long enough"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
Figures = tuple[float, float, float]  # req/s, p99 ms, server CPU µs per request


def ensure_postgres_database() -> None:
    """Create the ``bench_app`` database when missing (the servers' migrations fill it)."""
    import asyncpg

    async def create() -> None:
        connection = await asyncpg.connect(f"{POSTGRES}/test")
        try:
            if not await connection.fetchval(
                "select 1 from pg_database where datname = 'bench_app'"
            ):
                await connection.execute("create database bench_app")
        finally:
            await connection.close()

    asyncio.run(create())


def clean_redis() -> None:
    """Drop what earlier runs left in the bench's Redis database (cached plans, jobs)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()


class Server:
    """One side, started and ready, with a bearer token it accepts and a few projects."""

    def __init__(self, kind: str, database: str, folder: Path) -> None:
        self.kind = kind
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "BENCH_APP_REDIS": REDIS_URL, "RAINMAKER_PROFILE": "development"}
        if kind == "handwritten":
            env["BENCH_APP_DB_URL"] = (
                f"sqlite+aiosqlite:///{folder / 'hand.db'}"
                if database == "sqlite"
                else "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_app"
            )
            cmd = [
                PYTHON,
                "-m",
                "uvicorn",
                "handwritten:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--app-dir",
                str(HERE),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
            ]
        else:
            env["BENCH_APP_SQLITE"] = str(folder / "composed.db")
            env["BENCH_APP_JWT_SECRET"] = secrets.token_urlsafe(48)
            cmd = [
                PYTHON,
                "-c",
                "from rainmaker.cli.main import main; main()",
                "run",
                "--app",
                str(HERE / "composed"),
                "--port",
                str(port),
                "--set",
                "http.shutdown.delay=0",
            ]
            if database == "postgres":
                cmd += ["--profile", "postgres"]
        # The log goes to a file (not a terminal, as in production); read only on failure.
        self.log = folder / f"{kind}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=folder
            )
        self._wait_ready()
        self.token = self._token()
        for number in range(5):  # something for GET /projects to list
            response = httpx.post(
                f"{self.url}/projects",
                json={"name": f"seed {number}"},
                headers={"Authorization": f"Bearer {self.token}"},
            )
            if response.status_code != 201:
                self.fail(f"seeding answered {response.status_code} {response.text}")

    def fail(self, why: str) -> None:
        """Stop with ``why`` and the end of the server's log."""
        tail = self.log.read_text(errors="replace")[-4000:]
        self.stop()
        raise SystemExit(f"{self.kind}: {why}\n--- end of its log ---\n{tail}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"exited with {self.process.returncode}")
            try:
                httpx.get(f"{self.url}/projects", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.fail("did not start")

    def _token(self) -> str:
        if self.kind == "handwritten":
            from handwritten import mint_token

            return mint_token(uuid.uuid4().hex)
        body = {"email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
        httpx.post(f"{self.url}/auth/register", json=body, timeout=30).raise_for_status()
        login = httpx.post(f"{self.url}/auth/login", json=body, timeout=30)
        login.raise_for_status()
        token: str = login.json()["access_token"]
        return token

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wrk(server: Server, route: str, seconds: int, args: argparse.Namespace) -> Figures:
    """wrk on ``route`` (``GET`` or ``POST``) of ``server``: req/s, p99 ms, CPU µs/request."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.headers["Authorization"] = "Bearer {server.token}"\n')
        if route == "POST":
            script.write(
                'wrk.method = "POST"\nwrk.body = \'{"name": "bench project"}\'\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
    cpu = cpu_seconds(server.process.pid)
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(args.threads),
            "-c",
            str(args.connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            script.name,
            f"{server.url}/projects",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spent = cpu_seconds(server.process.pid) - cpu
    os.unlink(script.name)
    if "Non-2xx" in out:
        server.fail(f"{route}: errors under load\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, float(p99.group(1)) * _UNITS[p99.group(2)], spent / max(requests, 1) * 1e6


def measure(database: str, args: argparse.Namespace) -> list[Row]:
    clean_redis()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-app-") as folder:
        servers = {
            kind: Server(kind, database, Path(folder)) for kind in ("handwritten", "composed")
        }
        try:
            for route in ("GET", "POST"):
                results: dict[str, list[Figures]] = {kind: [] for kind in servers}
                for server in servers.values():
                    wrk(server, route, 2, args)  # warm up
                for number in range(args.rounds):
                    order = list(servers) if number % 2 == 0 else list(reversed(servers))
                    for kind in order:
                        figures = wrk(servers[kind], route, args.seconds, args)
                        results[kind].append(figures)
                        print(
                            f"  {database} {route} round {number + 1} {kind:<12} "
                            f"{figures[0]:8.0f} req/s  p99 {figures[1]:7.2f} ms  "
                            f"cpu {figures[2]:6.1f} us/req",
                            flush=True,
                        )
                medians = {
                    kind: [statistics.median(column) for column in zip(*rounds, strict=True)]
                    for kind, rounds in results.items()
                }
                hand, comp = medians["handwritten"], medians["composed"]
                print(
                    f"  {database} {route} /projects: throughput {comp[0] / hand[0]:.3f}x  "
                    f"p99 {comp[1] / hand[1]:.3f}x  cpu/request {comp[2] / hand[2]:.3f}x",
                    flush=True,
                )
                figure = f"{route} /projects ({'SQLite' if database == 'sqlite' else 'PostgreSQL'})"
                rows += [
                    Row("app", f"{figure} throughput", "req/s", comp[0], hand[0], True, ">= 1.0x"),
                    Row("app", f"{figure} p99", "ms", comp[1], hand[1], False, "<= 1.05x"),
                    Row("app", f"{figure} CPU per request", "µs", comp[2], hand[2], False),
                ]
        finally:
            for server in servers.values():
                server.stop()
    clean_redis()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s per figure")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 3
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    rows: list[Row] = []
    for database in ("sqlite", "postgres"):
        if args.only and args.only != database:
            continue
        if database == "postgres":
            ensure_postgres_database()
        print(f"{database}:", flush=True)
        rows += measure(database, args)
    write_results(args.json, rows)


if __name__ == "__main__":
    main()
