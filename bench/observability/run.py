"""Observability overhead: the bench/http composed app with and without the pattern.

Same endpoint (``GET /items/{id}``), same uvicorn worker, same wrk settings as
``bench/http`` (whose helpers this reuses), interleaved rounds. Three configurations:

* ``baseline``: bench/http's composed app (framework-fastapi + the items pattern);
* ``metrics``: the same plus ``observability`` with its defaults (metrics on, tracing off);
* ``tracing``: metrics plus tracing with every request sampled, spans exported to the
  console exporter (its output discarded), i.e. the full per-request span cost.

Usage::

    .venv/bin/python bench/observability/run.py [--rounds 3] [--seconds 10] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.http.run import free_port, interleaved_rounds
from bench.results import Result, write_results

HERE = Path(__file__).resolve().parent
APPS = {
    "baseline": (HERE.parent / "http" / "composed", []),
    "metrics": (HERE / "composed", []),
    "tracing": (HERE / "composed", ["--set", 'obs.tracing.exporter="console"']),
}


def start(kind: str) -> tuple[subprocess.Popen[bytes], str]:
    folder, extra = APPS[kind]
    port = free_port()
    cmd = [sys.executable, "-c", "from rainmaker.cli.main import main; main()", "run",
           "--app", str(folder), "--port", str(port), "--set", "http.shutdown.delay=0", *extra]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/items/1", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{kind} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=list(APPS), default=list(APPS))
    parser.add_argument("--quick", action="store_true", help="2 rounds of 4 s")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 2, 4
    kinds = args.only
    results = interleaved_rounds({kind: start(kind) for kind in kinds}, args)
    base = statistics.median(r[0] for r in results[kinds[0]])
    print(f"\n{'config':<9} {'req/s':>9} {'ratio':>7} {'cpu us/req':>11}")
    rows = []
    for kind in kinds:
        rps = statistics.median(r[0] for r in results[kind])
        cpu = statistics.median(r[2] for r in results[kind])
        print(f"{kind:<9} {rps:9.0f} {rps / base:7.3f} {cpu:11.1f}")
        if kind != kinds[0]:
            rows.append(
                Result(
                    topic="observability",
                    figure=f"throughput with {kind} vs without the pattern",
                    unit="req/s",
                    baseline=base,
                    ours=rps,
                    goal=">= 0.95x" if kind == "metrics" else "",
                )
            )
    write_results(args.json, rows)


if __name__ == "__main__":
    main()
