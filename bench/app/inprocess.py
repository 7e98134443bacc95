"""The app benchmark without the network: both apps called as ASGI in one process.

On a shared machine wrk rounds swing widely; calling each app's ASGI entry point directly,
in alternating rounds, compares just the work each does per request (the edge, the token,
the cache read, the database, the job) with less noise, and can profile it::

    .venv/bin/python bench/app/inprocess.py [--database sqlite|postgres] [--rounds 4]
        [--requests 1000] [--profile GET|POST] [--profiler cprofile|pyinstrument] [--calls]

Redis 127.0.0.1:6379 db 5 (flushed before and after) and, with ``--database postgres``,
PostgreSQL at 127.0.0.1:5432 (database ``bench_app``) as for ``run.py``. Requests are
issued one at a time, so this measures CPU per request, not behaviour under concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]
from bench.app.run import PASSWORD, REDIS_URL, clean_redis, ensure_postgres_database  # noqa: E402
from bench.asgi_calls import http_scope, timed_calls  # noqa: E402

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_app"


def scope_for(method: str, token: str) -> dict[str, Any]:
    """One ASGI request to ``/projects``."""
    headers = [(b"authorization", f"Bearer {token}".encode())]
    if method == "POST":
        headers.append((b"content-type", b"application/json"))
    return http_scope(method, "/projects", headers)


async def per_request_us(app: Any, method: str, token: str, count: int) -> float:
    """CPU microseconds per request over ``count`` sequential calls of ``app``."""
    body = b'{"name": "bench project"}' if method == "POST" else b""
    expected = 201 if method == "POST" else 200
    scope = scope_for(method, token)
    spent = await timed_calls(
        app, scope, count, body=body, expected=expected, clock=time.process_time
    )
    return spent / count * 1e6


async def composed_token(app: Any) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        body = {"email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
        (await client.post("/auth/register", json=body)).raise_for_status()
        login = await client.post("/auth/login", json=body)
        login.raise_for_status()
        token: str = login.json()["access_token"]
        return token


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-app-inprocess-"))
    os.environ.update(
        RAINMAKER_PROFILE="development",
        BENCH_APP_REDIS=REDIS_URL,
        BENCH_APP_SQLITE=str(folder / "composed.db"),
        BENCH_APP_JWT_SECRET=secrets.token_urlsafe(48),
        BENCH_APP_DB_URL=(
            f"sqlite+aiosqlite:///{folder / 'hand.db'}"
            if args.database == "sqlite"
            else POSTGRES_URL
        ),
    )
    import handwritten

    import rainmaker

    composed = rainmaker.load(
        HERE / "composed", profile="postgres" if args.database == "postgres" else None
    )
    await composed.start()
    async with handwritten.engine.begin() as connection:
        await connection.run_sync(handwritten.metadata.create_all)
    try:
        apps = {"handwritten": handwritten.app, "composed": composed}
        tokens = {
            "handwritten": handwritten.mint_token(uuid.uuid4().hex),
            "composed": await composed_token(composed),
        }
        for kind, app in apps.items():  # warm up: seed rows, fill the cache
            for method in ("POST", "GET"):
                await per_request_us(app, method, tokens[kind], 50)
        if args.profile:
            await profile(apps["composed"], args.profile, tokens["composed"], args)
            return
        if args.calls:
            for method in ("GET", "POST"):
                for kind, app in apps.items():
                    calls, hops = await calls_per_request(app, method, tokens[kind], args.requests)
                    print(
                        f"  {args.database} {method} {kind:<12} {calls:7.0f} Python calls "
                        f"and {hops:4.1f} database thread hops per request",
                        flush=True,
                    )
            return
        for method in ("GET", "POST"):
            ratios = []
            for number in range(args.rounds):
                order = list(apps) if number % 2 == 0 else list(reversed(apps))
                spent = {
                    kind: await per_request_us(apps[kind], method, tokens[kind], args.requests)
                    for kind in order
                }
                ratios.append(spent["handwritten"] / spent["composed"])
                print(
                    f"  {args.database} {method} round {number + 1}: handwritten "
                    f"{spent['handwritten']:7.1f} us  composed {spent['composed']:7.1f} us  "
                    f"CPU ratio hand/composed {ratios[-1]:.3f}",
                    flush=True,
                )
            print(f"  {args.database} {method} median ratio: {statistics.median(ratios):.3f}")
    finally:
        await composed.stop()
        await handwritten.cache.aclose()
        await handwritten.engine.dispose()


async def calls_per_request(app: Any, method: str, token: str, count: int) -> tuple[float, float]:
    """Function calls per request (deterministic, unlike time on a busy machine), and how
    many of them hand work to aiosqlite's thread (each a thread switch)."""
    cprofile = cProfile.Profile()
    cprofile.enable()
    await per_request_us(app, method, token, count)
    cprofile.disable()
    stats = pstats.Stats(cprofile)
    hops = sum(
        row[1]
        for (path, _line, name), row in stats.stats.items()  # type: ignore[attr-defined]
        if name == "_execute" and path.endswith("aiosqlite/core.py")
    )
    return stats.total_calls / count, hops / count  # type: ignore[attr-defined]


async def profile(app: Any, method: str, token: str, args: argparse.Namespace) -> None:
    """Profile ``args.requests`` calls of the composed app and print the top frames."""
    if args.profiler == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="enabled", interval=0.0005)
        with profiler:
            await per_request_us(app, method, token, args.requests)
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return
    cprofile = cProfile.Profile()
    cprofile.enable()
    await per_request_us(app, method, token, args.requests)
    cprofile.disable()
    stats = pstats.Stats(cprofile).sort_stats("cumulative")
    stats.print_stats(60)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--profile", choices=["GET", "POST"])
    parser.add_argument("--calls", action="store_true", help="count calls, not time")
    parser.add_argument("--profiler", choices=["cprofile", "pyinstrument"], default="cprofile")
    arguments = parser.parse_args()
    if arguments.database == "postgres":
        ensure_postgres_database()
    clean_redis()
    try:
        asyncio.run(main(arguments))
    finally:
        clean_redis()
