"""Observability overhead: the bench/http composed app with and without the pattern.

Same endpoint (``GET /items/{id}``), same uvicorn worker, same wrk settings as
``bench/http`` (whose helpers this reuses), interleaved rounds. Three configurations:

* ``baseline``: bench/http's composed app (framework-fastapi + the items pattern);
* ``metrics``: the same plus ``observability`` with its defaults (metrics on, tracing off);
* ``tracing``: metrics plus tracing with every request sampled, in the production shape:
  the ``BatchSpanProcessor`` and the OTLP/HTTP exporter posting to a collector stand-in on
  127.0.0.1 (:class:`Collector`, which accepts and discards every request), i.e. the full
  per-request span cost including the protobuf encoding and the export;
* ``tracing-1%``: the same with ``sample_ratio = 0.01``, the usual production setting.

Each figure prints beside its goal (issue 23). On a busy machine compare ``cpu us/req``
(the server's own CPU time per request), not req/s.

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
GOALS = {"metrics": 0.95, "tracing": 0.8, "tracing-1%": 0.97}


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
    return {
        "baseline": (HERE.parent / "http" / "composed", []),
        "metrics": (HERE / "composed", []),
        "tracing": (HERE / "composed", otlp),
        "tracing-1%": (HERE / "composed", [*otlp, "--set", "obs.tracing.sample_ratio=0.01"]),
    }


KINDS = ["baseline", "metrics", "tracing", "tracing-1%"]


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
    parser.add_argument("--only", nargs="+", choices=KINDS, default=KINDS)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 4 s")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 2, 4
    kinds = args.only
    collector = Collector()
    configs = apps(collector)
    results = interleaved_rounds({kind: start(kind, configs) for kind in kinds}, args)
    head = f"{'config':<10} {'req/s':>9} {'ratio':>7} {'cpu us/req':>11} {'cpu ratio':>10}"
    print(f"\n{head}  against, goal")
    rows = []
    for kind in kinds:
        # Tracing's cost is against the same app with tracing off (``metrics``) when it ran.
        against = "metrics" if kind.startswith("tracing") and "metrics" in results else kinds[0]
        base = statistics.median(r[0] for r in results[against])
        base_cpu = statistics.median(r[2] for r in results[against])
        rps = statistics.median(r[0] for r in results[kind])
        cpu = statistics.median(r[2] for r in results[kind])
        goal = GOALS.get(kind) if kind != kinds[0] else None
        verdict = ""
        if goal is not None:
            # Throughput is what the goal names; base_cpu / cpu is its CPU-bound estimate.
            verdict = f"vs {against} >= {goal}x: {'met' if rps / base >= goal else 'MISSED'}"
        print(
            f"{kind:<10} {rps:9.0f} {rps / base:7.3f} {cpu:11.1f} {base_cpu / cpu:10.3f}  {verdict}"
        )
        if kind != kinds[0]:
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
