"""The throughput comparison without the network: each app called as ASGI in one process.

On a shared machine wrk rounds swing by ±40 %; calling both apps' ASGI entry points
directly, in alternating rounds, compares just what differs (the edge middleware, the
kernel hand-off and the guard vs the hand-written dependency) with far less noise.

    .venv/bin/python bench/auth/inprocess.py [--rounds 8] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "composed"), str(HERE.parents[1])]
from bench.asgi_calls import http_scope, timed_calls  # noqa: E402

PASSWORD = "bench password that is long enough"


async def per_request_us(app: Any, headers: list[tuple[bytes, bytes]], count: int) -> float:
    spent = await timed_calls(app, http_scope("GET", "/protected", headers), count)
    return spent / count * 1e6


async def main(rounds: int, count: int) -> None:
    os.environ.setdefault("RAINMAKER_PROFILE", "development")
    from handwritten import app as handwritten

    import rainmaker

    shutil.rmtree(HERE / "composed" / "var", ignore_errors=True)
    composed = rainmaker.load(HERE / "composed")
    await composed.start()
    try:
        transport = httpx.ASGITransport(app=composed)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            body = {"email": email, "password": PASSWORD}
            (await client.post("/auth/register", json=body)).raise_for_status()
            token = (await client.post("/auth/login", json=body)).json()["access_token"]
        headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
        ratios = []
        for number in range(rounds):
            hand = await per_request_us(handwritten, headers, count)
            comp = await per_request_us(composed, headers, count)
            ratios.append(hand / comp)
            print(
                f"  round {number + 1}: handwritten {hand:6.1f} us  composed {comp:6.1f} us"
                f"  throughput ratio {hand / comp:.3f}",
                flush=True,
            )
        print(f"  median throughput ratio (composed/handwritten): {statistics.median(ratios):.3f}")
    finally:
        await composed.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.requests))
