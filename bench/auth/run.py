"""Auth benchmark: a route guarded by auth-jwt vs the same route written by hand.

1. Throughput: ``GET /protected`` (verify the bearer token, answer the user id) served by
   the composed app (framework-fastapi + auth-jwt + a local pattern using the ``identity``
   guard) and by ``handwritten.py`` (FastAPI + PyJWT, the same checks), one uvicorn worker
   each, access logs off, wrk in interleaved rounds, median of the rounds.
   Then, in the same composed app, ``GET /typed`` (a module-level handler taking
   ``CurrentUser`` and ``Inject(Database)``) against ``GET /closure`` (the same route with
   closure guards and a service looked up in ``router()``), interleaved the same way.
2. Login latency: sequential ``POST /auth/login`` with the default argon2id parameters.
3. Event-loop lag under login load: ``GET /health/live`` probed one at a time, first on
   an idle server, then while many clients log in at once. If hashing ran on the event
   loop, every probe would wait for the hashes in front of it.

Usage::

    bench/auth/run.sh [--rounds 3] [--seconds 10] [--connections 32] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.results import Result as Row
from bench.results import write_results

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
PASSWORD = "bench password that is long enough"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{what} did not start")


def start_composed() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    shutil.rmtree(HERE / "composed" / "var", ignore_errors=True)
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
        "--set",
        "http.access_log=false",
    ]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/health/live", process, "the composed app")
    return process, url


def start_handwritten() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
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
        "--no-access-log",
    ]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/docs", process, "the hand-written app")
    return process, url


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def account(url: str) -> tuple[str, str]:
    """Register a user on the composed app; its email and an access token."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=url, timeout=30) as client:
        client.post(
            "/auth/register", json={"email": email, "password": PASSWORD}
        ).raise_for_status()
        answer = client.post("/auth/login", json={"email": email, "password": PASSWORD})
        answer.raise_for_status()
        return email, answer.json()["access_token"]


def wrk(
    url: str, token: str, seconds: int, connections: int, threads: int, path: str = "/protected"
) -> tuple[float, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            f"{url}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx answers from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    return rps, float(p99.group(1)) * _UNITS[p99.group(2)]


FIGURES: list[Row] = []


def throughput(args: argparse.Namespace, composed: str, handwritten: str, token: str) -> None:
    servers = {"handwritten": handwritten, "composed": composed}
    for kind, url in servers.items():
        answer = httpx.get(f"{url}/protected", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, (kind, answer.text)
        wrk(url, token, 2, args.connections, args.threads)  # warm up
    results: dict[str, list[tuple[float, float]]] = {kind: [] for kind in servers}
    for round_no in range(args.rounds):
        order = list(servers) if round_no % 2 == 0 else list(reversed(servers))
        for kind in order:
            rps, p99 = wrk(servers[kind], token, args.seconds, args.connections, args.threads)
            results[kind].append((rps, p99))
            print(
                f"  round {round_no + 1} {kind:<12} {rps:9.0f} req/s  p99 {p99:6.2f} ms", flush=True
            )
    hand = statistics.median(r for r, _ in results["handwritten"])
    comp = statistics.median(r for r, _ in results["composed"])
    hand_p99 = statistics.median(p for _, p in results["handwritten"])
    comp_p99 = statistics.median(p for _, p in results["composed"])
    print(f"  median handwritten {hand:9.0f} req/s  p99 {hand_p99:6.2f} ms")
    print(f"  median composed    {comp:9.0f} req/s  p99 {comp_p99:6.2f} ms")
    print(f"  ratio: throughput {comp / hand:.3f}x  p99 {comp_p99 / hand_p99:.3f}x", flush=True)
    route = "GET /protected (verify token)"
    FIGURES.append(Row("auth", f"{route} throughput", "req/s", comp, hand, True, ">= 0.95x"))
    FIGURES.append(Row("auth", f"{route} p99", "ms", comp_p99, hand_p99, False))


def typed_vs_closure(args: argparse.Namespace, composed: str, token: str) -> None:
    """``GET /typed`` (Inject + CurrentUser) against ``GET /closure`` (guards in a closure)."""
    paths = {"closure": "/closure", "typed": "/typed"}
    for kind, path in paths.items():
        answer = httpx.get(f"{composed}{path}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, (kind, answer.text)
        wrk(composed, token, 2, args.connections, args.threads, path)  # warm up
    rates: dict[str, list[float]] = {kind: [] for kind in paths}
    p99s: dict[str, list[float]] = {kind: [] for kind in paths}
    for round_no in range(args.rounds):
        order = list(paths) if round_no % 2 == 0 else list(reversed(paths))
        for kind in order:
            rps, p99 = wrk(
                composed, token, args.seconds, args.connections, args.threads, paths[kind]
            )
            rates[kind].append(rps)
            p99s[kind].append(p99)
            print(
                f"  round {round_no + 1} {kind:<8} {rps:9.0f} req/s  p99 {p99:6.2f} ms", flush=True
            )
    closure = statistics.median(rates["closure"])
    typed = statistics.median(rates["typed"])
    print(f"  median closure {closure:9.0f} req/s   typed {typed:9.0f} req/s", flush=True)
    print(f"  ratio: throughput {typed / closure:.3f}x", flush=True)
    route = "GET current user + database: Inject/CurrentUser vs closure guards"
    FIGURES.append(Row("auth", f"{route} throughput", "req/s", typed, closure, True, ">= 0.98x"))
    FIGURES.append(
        Row(
            "auth",
            f"{route} p99",
            "ms",
            statistics.median(p99s["typed"]),
            statistics.median(p99s["closure"]),
            False,
        )
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def login_latency(url: str, email: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        times = []
        for _ in range(count):
            began = time.perf_counter()
            answer = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
            times.append((time.perf_counter() - began) * 1000)
            answer.raise_for_status()
    print(
        f"  {count} sequential logins: p50 {percentile(times, 0.5):.1f} ms  "
        f"p90 {percentile(times, 0.9):.1f} ms  max {max(times):.1f} ms"
    )


async def probe(client: httpx.AsyncClient, seconds: float) -> list[float]:
    lags = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        (await client.get("/health/live")).raise_for_status()
        lags.append((time.perf_counter() - began) * 1000)
        await asyncio.sleep(0.01)
    return lags


async def loop_lag(url: str, email: str, workers: int, seconds: float) -> None:
    limits = httpx.Limits(max_connections=workers + 2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        idle = await probe(client, seconds / 2)
        done = 0
        stop_at = time.perf_counter() + seconds

        async def hammer() -> None:
            nonlocal done
            while time.perf_counter() < stop_at:
                answer = await client.post(
                    "/auth/login", json={"email": email, "password": PASSWORD}
                )
                answer.raise_for_status()
                done += 1

        began = time.perf_counter()
        tasks = [asyncio.create_task(hammer()) for _ in range(workers)]
        await asyncio.sleep(0.2)  # let the flood build up
        loaded = await probe(client, seconds - 0.5)
        await asyncio.gather(*tasks)
        rate = done / (time.perf_counter() - began)
    for label, lags in (("idle", idle), (f"{workers} concurrent logins", loaded)):
        print(
            f"  /health/live {label:<22} p50 {percentile(lags, 0.5):6.1f} ms  "
            f"p99 {percentile(lags, 0.99):6.1f} ms  max {max(lags):6.1f} ms  "
            f"({len(lags)} probes)"
        )
    print(f"  logins completed under load: {rate:.1f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--logins", type=int, default=30)
    parser.add_argument("--login-workers", type=int, default=32)
    parser.add_argument("--only", choices=["throughput", "typed", "logins"])
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s, 10 logins")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.logins = 1, 3, 10
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    os.environ.setdefault("RAINMAKER_PROFILE", "development")
    composed, composed_url = start_composed()
    handwritten, handwritten_url = start_handwritten()
    try:
        email, token = account(composed_url)
        if args.only in (None, "throughput"):
            print("GET /protected (verify token, read user id):", flush=True)
            throughput(args, composed_url, handwritten_url, token)
        if args.only in (None, "typed"):
            print("GET current user + database, typed injection vs closure guards:", flush=True)
            typed_vs_closure(args, composed_url, token)
        if args.only in (None, "logins"):
            print("POST /auth/login (argon2id t=3 m=64MiB p=4, 4 hashing threads):", flush=True)
            asyncio.run(login_latency(composed_url, email, args.logins))
            print("event-loop lag under login load:", flush=True)
            asyncio.run(loop_lag(composed_url, email, args.login_workers, 10.0))
    finally:
        stop(composed)
        stop(handwritten)
    write_results(args.json, FIGURES)


if __name__ == "__main__":
    main()
