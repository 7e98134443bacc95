"""Observability overhead: the bench/http composed app with and without the pattern.

Same endpoint (``GET /items/{id}``), same uvicorn worker, same wrk settings as
``bench/http`` (whose helpers this reuses), interleaved rounds. The configurations:

* ``baseline``: bench/http's composed app (framework-fastapi + the items pattern);
* ``all-off``: the same plus ``observability`` with everything off (metrics, tracing, leak
  watch, operator): composing the pattern must cost nothing (goal: within 2 %);
* ``metrics``: ``observability`` with its defaults (metrics and process collectors on,
  tracing off);
* ``leak-watch``: ``metrics`` plus the leak watch, sampling every second (its default is a
  minute: a second puts samples inside every round) without tracemalloc (its default);
  compared with ``metrics``, the same app with the leak watch off;
* ``tracing``: metrics plus tracing with every request sampled, in the production shape:
  the ``BatchSpanProcessor`` and the OTLP/HTTP exporter posting to a collector stand-in on
  127.0.0.1 (:class:`Collector`, which accepts and discards every request), i.e. the full
  per-request span cost including the protobuf encoding and the export;
* ``tracing-1%``: the same with ``sample_ratio = 0.01``, the usual production setting.

``--only leak-watch-tm`` adds the leak watch with ``tracemalloc_frames = 1`` (allocation
sites, documented as costly; no goal). Each figure prints beside its goal (issues 21 and
23). On a busy machine compare ``cpu us/req`` (the server's own CPU time per request),
not req/s.

Usage::

    .venv/bin/python bench/observability/run.py [--rounds 3] [--seconds 10] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.http.run import free_port, interleaved_rounds
from bench.results import Result, write_results

HERE = Path(__file__).resolve().parent
GOALS = {"all-off": 0.98, "metrics": 0.95, "leak-watch": 0.9, "tracing": 0.8, "tracing-1%": 0.97}
# What each configuration is compared with: the same app without the one thing it adds.
AGAINST = {
    "all-off": "baseline",
    "metrics": "baseline",
    "leak-watch": "metrics",
    "leak-watch-tm": "metrics",
    "tracing": "metrics",
    "tracing-1%": "metrics",
}


class _Discard(BaseHTTPRequestHandler):
    """Answers every OTLP/HTTP export with 200 and an empty body, keeping nothing."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real collector serves it

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


class Collector:
    """An OTLP/HTTP collector stand-in on 127.0.0.1, served from a thread of this process."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Discard)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"


def apps(collector: Collector) -> Configs:
    """Every configuration: its app folder and its ``--set`` overrides."""
    otlp = [
        "--set",
        'obs.tracing.exporter="otlp-http"',
        "--set",
        f'obs.tracing.endpoint="{collector.endpoint}"',
    ]
    leak_watch = ["--set", "obs.leak_watch.enabled=true", "--set", "obs.leak_watch.interval=1"]
    composed = HERE / "composed"
    return {
        "baseline": (HERE.parent / "http" / "composed", []),
        "all-off": (composed, ["--set", "obs.metrics.enabled=false"]),
        "metrics": (composed, []),
        "leak-watch": (composed, leak_watch),
        "leak-watch-tm": (composed, [*leak_watch, "--set", "obs.leak_watch.tracemalloc_frames=1"]),
        "tracing": (composed, otlp),
        "tracing-1%": (composed, [*otlp, "--set", "obs.tracing.sample_ratio=0.01"]),
    }


KINDS = ["baseline", "all-off", "metrics", "leak-watch", "tracing", "tracing-1%"]


Configs = dict[str, tuple[Path, list[str]]]


def start(kind: str, configs: Configs) -> tuple[subprocess.Popen[bytes], str]:
    folder, extra = configs[kind]
    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        "from rainmaker.cli.main import main; main()",
        "run",
        "--app",
        str(folder),
        "--port",
        str(port),
        "--set",
        "http.shutdown.delay=0",
        *extra,
    ]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # a busy machine imports slowly
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
    parser.add_argument("--only", nargs="+", choices=[*KINDS, "leak-watch-tm"], default=KINDS)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 4 s")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 2, 4
    kinds = args.only
    collector = Collector()
    configs = apps(collector)
    results = interleaved_rounds({kind: start(kind, configs) for kind in kinds}, args)
    head = f"{'config':<13} {'req/s':>9} {'ratio':>7} {'cpu us/req':>11} {'cpu ratio':>10}"
    print(f"\n{head}  against, goal")
    rows = []
    for kind in kinds:
        # Each against the same app without what it adds, when that ran (else the first).
        against = AGAINST.get(kind, kinds[0])
        if against not in results:
            against = kinds[0]
        base = statistics.median(r[0] for r in results[against])
        base_cpu = statistics.median(r[2] for r in results[against])
        rps = statistics.median(r[0] for r in results[kind])
        cpu = statistics.median(r[2] for r in results[kind])
        goal = GOALS.get(kind) if kind != against else None
        verdict = ""
        if goal is not None:
            # Throughput is what the goal names; base_cpu / cpu is its CPU-bound estimate.
            verdict = f"vs {against} >= {goal}x: {'met' if rps / base >= goal else 'MISSED'}"
        print(
            f"{kind:<13} {rps:9.0f} {rps / base:7.3f} {cpu:11.1f} {base_cpu / cpu:10.3f}  {verdict}"
        )
        if kind != against:
            rows.append(
                Result(
                    topic="observability",
                    figure=f"throughput with {kind} vs {against}",
                    unit="req/s",
                    baseline=base,
                    ours=rps,
                    goal="" if goal is None else f">= {goal}x",
                    note="OTLP/HTTP to a local collector stand-in" if "tracing" in kind else "",
                )
            )
    write_results(args.json, rows)


if __name__ == "__main__":
    main()
