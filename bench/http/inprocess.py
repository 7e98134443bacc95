"""CPU per request without the network: each app's ASGI entry point called in a loop.

On a machine shared with other jobs wrk's req/s swings by tens of percent; the CPU time one
process spends per request, and even more the instructions it executes (``--callgrind``),
compare just what differs between the apps (middleware, routing, logging) repeatably.

Each app runs in its own process (the libraries baseline and the composed app configure
structlog differently), in alternating rounds::

    .venv/bin/python bench/http/inprocess.py                  # CPU µs per request
    .venv/bin/python bench/http/inprocess.py --callgrind      # instructions per request
    .venv/bin/python bench/http/inprocess.py --profile composed-nolog   # pyinstrument

``--one KIND --requests N`` (used by the above) runs one app and prints its figure.
Logs go to /dev/null, as in ``run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
from bench.asgi_calls import http_scope, timed_calls  # noqa: E402

KINDS = ("handwritten", "libraries", "libraries-nolog", "composed", "composed-nolog")
App = Callable[..., Awaitable[None]]


async def build(kind: str) -> tuple[App, Callable[[], Awaitable[None]]]:
    """The ASGI app of ``kind`` and how to stop it."""
    sys.path.insert(0, str(HERE))

    async def nothing() -> None:
        return None

    if kind == "handwritten":
        from handwritten import app

        return app, nothing
    if kind.startswith("libraries"):
        os.environ["BENCH_ACCESS_LOG"] = "0" if kind.endswith("nolog") else "1"
        from libraries import app as libraries

        return libraries, nothing
    import rainmaker

    overrides = ["http.access_log=false"] if kind.endswith("nolog") else []
    composed = rainmaker.load(HERE / "composed", profile="development", overrides=overrides)
    await composed.start()
    return composed, composed.stop


async def drive(app: App, count: int) -> float:
    """Send ``count`` ``GET /items/42`` requests; CPU seconds spent."""
    scope = http_scope("GET", "/items/42", [(b"host", b"127.0.0.1:8000")])
    return await timed_calls(app, scope, count, clock=time.process_time)


async def one(kind: str, count: int, profile: bool) -> None:
    app, stop = await build(kind)
    try:
        await drive(app, min(count, 500))  # warm up: imports, caches, first-use paths
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002, async_mode="disabled")
            profiler.start()
            spent = await drive(app, count)
            profiler.stop()
            text = profiler.output_text(unicode=False, color=False, show_all=True)
            sys.__stdout__.write(text)
        else:
            spent = await drive(app, count)
        sys.__stdout__.write(f"cpu_us_per_request {spent / count * 1e6:.2f}\n")
    finally:
        await stop()


def run_one(kind: str, count: int, *, callgrind: bool = False, profile: bool = False) -> str:
    cmd = [sys.executable, __file__, "--one", kind, "--requests", str(count)]
    if profile:
        cmd.append("--profile-here")
    if callgrind:
        out = Path(tempfile.mkdtemp()) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            f"--log-file={out}.log",
            *cmd,
        ]
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "RAINMAKER_PROFILE": "development"},
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    if callgrind:
        report = Path(f"{out}.log").read_text()
        found = re.search(r"Collected : (\d+)", report)
        assert found is not None, report[-2000:]
        return found.group(1)
    return done.stdout


def cpu_per_request(kinds: list[str], rounds: int, count: int) -> dict[str, float]:
    """Median CPU µs per request of each kind, over alternating rounds."""
    figures: dict[str, list[float]] = {kind: [] for kind in kinds}
    for number in range(rounds):
        for kind in kinds if number % 2 == 0 else list(reversed(kinds)):
            out = run_one(kind, count)
            figures[kind].append(float(out.rsplit("cpu_us_per_request", 1)[1]))
        print(
            f"  round {number + 1}: "
            + "  ".join(f"{kind} {values[-1]:.1f}" for kind, values in figures.items()),
            flush=True,
        )
    return {kind: statistics.median(values) for kind, values in figures.items()}


def instructions_per_request(kinds: list[str], count: int) -> dict[str, float]:
    """Instructions per request of each kind: the difference of two callgrind runs.

    Start-up is the same in a run of ``count`` and one of ``2 * count`` requests, so the
    difference over ``count`` is what one request costs, repeatable whatever the load.
    """
    figures = {}
    for kind in kinds:
        small = int(run_one(kind, count, callgrind=True))
        large = int(run_one(kind, 2 * count, callgrind=True))
        figures[kind] = (large - small) / count
        print(f"  {kind}: {figures[kind]:,.0f} instructions per request", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), choices=KINDS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="instructions per request (valgrind), --requests 1000 is plenty",
    )
    parser.add_argument("--profile", choices=KINDS, help="pyinstrument profile of one app")
    parser.add_argument("--one", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--profile-here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        # The apps' log lines are not part of the output; rendering them is part of the cost.
        devnull = open(os.devnull, "w")  # lives as long as the process
        sys.stderr = devnull
        os.dup2(devnull.fileno(), 2)
        try:
            asyncio.run(one(args.one, args.requests, args.profile_here))
        except BaseException:
            traceback.print_exc(file=sys.__stdout__)  # stderr is /dev/null by now
            raise
        return
    if args.profile:
        print(run_one(args.profile, args.requests, profile=True))
        return
    if args.callgrind:
        figures = instructions_per_request(args.kinds, args.requests)
        unit = "instructions"
    else:
        figures = cpu_per_request(args.kinds, args.rounds, args.requests)
        unit = "CPU µs"
    base = figures.get("handwritten")
    for kind, value in figures.items():
        ratio = f"  ({value / base:.3f}x handwritten)" if base else ""
        print(f"{kind:<16} {value:12,.1f} {unit} per request{ratio}")


if __name__ == "__main__":
    main()
