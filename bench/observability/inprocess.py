"""CPU per request of each observability configuration without the network.

``run.py``'s wrk figures swing with the machine's load. Here the configurations' ASGI
apps are built side by side in one process and called in a loop (bench/http's
:func:`~bench.http.inprocess.drive`), in short alternating blocks, and each block's CPU
time per request is compared with its neighbour's: drift of the machine hits both alike,
so the median ratio is steady on a busy machine. CPU time is the whole process's — the
``BatchSpanProcessor``'s export thread counts too (spans still queued are flushed inside
the figure). The OTLP collector stand-in runs in a process of its own.

Logging is configured per process and tracing adds a log processor to it, so the
comparisons run in groups, each in its own process: the tracing group
(``metrics``, ``tracing``, ``tracing-1%``) apart from the rest::

    .venv/bin/python bench/observability/inprocess.py                   # CPU µs per request
    .venv/bin/python bench/observability/inprocess.py --profile tracing  # pyinstrument
    .venv/bin/python bench/observability/inprocess.py --profile tracing --tool cprofile

``--profile`` samples the request loop's thread (pyinstrument, wall time: on a busy
machine read shares, not seconds) or counts every call (cProfile: calls per request and
self time, small functions inflated); neither sees the export thread, whose share is
the difference between the CPU figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.http.inprocess import drive

HERE = Path(__file__).resolve().parent
LEAK_WATCH = ["obs.leak_watch.enabled=true", "obs.leak_watch.interval=1"]
OTLP = ['obs.tracing.exporter="otlp-http"', 'obs.tracing.endpoint="{endpoint}"']
CONFIGS: dict[str, tuple[Path, list[str]]] = {
    "baseline": (HERE.parent / "http" / "composed", []),
    "all-off": (HERE / "composed", ["obs.metrics.enabled=false"]),
    "metrics": (HERE / "composed", []),
    "leak-watch": (HERE / "composed", LEAK_WATCH),
    "leak-watch-tm": (HERE / "composed", [*LEAK_WATCH, "obs.leak_watch.tracemalloc_frames=1"]),
    "tracing": (HERE / "composed", OTLP),
    "tracing-1%": (HERE / "composed", [*OTLP, "obs.tracing.sample_ratio=0.01"]),
}
# Each group in a process of its own; the first of a group is what the others compare with.
GROUPS = {
    "metrics": ["baseline", "all-off", "metrics", "leak-watch"],
    "tracing": ["metrics", "tracing", "tracing-1%"],
    "tracemalloc": ["metrics", "leak-watch-tm"],
}
AGAINST = {"all-off": "baseline", "metrics": "baseline"}  # the rest: against "metrics"
COLLECTOR = """
import sys
sys.path.insert(0, sys.argv[1])
from bench.observability.run import Collector
collector = Collector()
print(collector.endpoint, flush=True)
sys.stdin.read()  # until the bench closes it
"""


async def build(kind: str, endpoint: str) -> Any:
    """The started app of ``kind``."""
    import rainmaker

    folder, overrides = CONFIGS[kind]
    overrides = [o.format(endpoint=endpoint) for o in overrides]
    app = rainmaker.load(folder, profile="development", overrides=overrides)
    await app.start()
    return app


async def block(app: Any, count: int) -> float:
    """CPU µs per request over ``count`` requests, queued spans flushed inside the figure."""
    began = time.process_time()
    await drive(app, count)
    obs = app.instances.get("obs")
    tracing = getattr(obs.module, "tracing", None) if obs is not None else None
    if tracing is not None:
        tracing.provider.force_flush()
    return (time.process_time() - began) / count * 1e6


async def group(kinds: list[str], endpoint: str, rounds: int, count: int) -> dict[str, list[float]]:
    """Every kind's CPU µs per request, block after block in alternating order."""
    apps = {kind: await build(kind, endpoint) for kind in kinds}
    figures: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        for app in apps.values():
            await block(app, 500)  # warm up: imports, caches, first-use paths
        for number in range(rounds):
            for kind in kinds if number % 2 == 0 else list(reversed(kinds)):
                figures[kind].append(await block(apps[kind], count))
    finally:
        for app in apps.values():
            await app.stop()
    return figures


async def profile(
    kind: str,
    endpoint: str,
    count: int,
    tool: str,
    callers: list[str] | None = None,
    top: int = 40,
) -> None:
    """One kind's request loop under pyinstrument (a tree) or cProfile (calls, self time)."""
    app = await build(kind, endpoint)
    try:
        await block(app, 500)
        if tool == "cprofile":
            import cProfile
            import pstats

            profiler = cProfile.Profile(time.thread_time)  # this thread's CPU, no waits
            profiler.enable()
            spent = await block(app, count)
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.__stdout__)
            stats.sort_stats("tottime").print_stats(top)
            for name in callers or ():
                stats.print_callers(name)
        else:
            from pyinstrument import Profiler

            sampler = Profiler(interval=0.0002, async_mode="disabled")
            sampler.start()
            spent = await block(app, count)
            sampler.stop()
            text = sampler.output_text(unicode=False, color=False, show_all=True)
            sys.__stdout__.write(text)
        sys.__stdout__.write(f"cpu_us_per_request {spent:.2f} (under the profiler)\n")
    finally:
        await app.stop()


def in_child(args: argparse.Namespace) -> None:
    # The apps' log lines are not part of the output; rendering them is part of the cost.
    devnull = open(os.devnull, "w")  # lives as long as the process
    sys.stderr = devnull
    os.dup2(devnull.fileno(), 2)
    try:
        if args.profile:
            asyncio.run(
                profile(
                    args.profile, args.endpoint, args.requests, args.tool, args.callers, args.top
                )
            )
        else:
            figures = asyncio.run(group(args.group, args.endpoint, args.rounds, args.requests))
            sys.__stdout__.write(json.dumps(figures) + "\n")
    except BaseException:
        traceback.print_exc(file=sys.__stdout__)  # stderr is /dev/null by now
        raise


def child(endpoint: str, *extra: str) -> str:
    cmd = [sys.executable, __file__, "--child", "--endpoint", endpoint, *extra]
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "RAINMAKER_PROFILE": "development"},
    )
    if done.returncode != 0:
        raise SystemExit(f"{extra} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return done.stdout


def report(figures: dict[str, list[float]]) -> None:
    """Per kind: its best and median block, and the ratio of the best blocks to its baseline.

    On a busy machine other processes only ever add CPU time (cache misses, migrations), so
    the best of many short blocks is the steadiest estimate of what a request costs.
    """
    for kind, values in figures.items():
        against = AGAINST.get(kind, "metrics")
        line = (
            f"  {kind:<14} best {min(values):7.1f}  median {statistics.median(values):7.1f}"
            " CPU µs per request"
        )
        if kind != against and kind != "baseline" and against in figures:
            base = figures[against]
            ratios = [b / v for b, v in zip(base, values, strict=True)]
            line += (
                f"   vs {against}: best {min(base) / min(values):.3f}x,"
                f" median of rounds {statistics.median(ratios):.3f}x"
            )
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", nargs="*", default=["metrics", "tracing"], choices=GROUPS)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--requests", type=int, default=1000, help="per block")
    parser.add_argument("--profile", choices=list(CONFIGS), help="profile one configuration")
    parser.add_argument("--tool", choices=["pyinstrument", "cprofile"], default="pyinstrument")
    parser.add_argument("--callers", nargs="*", help="with cprofile: who calls these functions")
    parser.add_argument("--top", type=int, default=40, help="with cprofile: functions listed")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--group", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        in_child(args)
        return
    collector = subprocess.Popen(
        [sys.executable, "-c", COLLECTOR, str(HERE.parents[1])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert collector.stdout is not None and collector.stdin is not None
        endpoint = collector.stdout.readline().strip()
        if args.profile:
            extra = [
                "--profile",
                args.profile,
                "--tool",
                args.tool,
                "--requests",
                str(args.requests),
            ]
            if args.callers:
                extra += ["--callers", *args.callers]
            extra += ["--top", str(args.top)]
            print(child(endpoint, *extra))
            return
        for name in args.groups:
            print(f"{name}:", flush=True)
            out = child(
                endpoint,
                "--group",
                *GROUPS[name],
                "--rounds",
                str(args.rounds),
                "--requests",
                str(args.requests),
            )
            report(json.loads(out.strip().splitlines()[-1]))
    finally:
        if collector.stdin is not None:
            collector.stdin.close()
        collector.wait(timeout=10)


if __name__ == "__main__":
    main()
