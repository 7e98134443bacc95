"""HTTP benchmark: a composed app (framework-fastapi + one local pattern) vs hand-written FastAPI.

Two baselines: ``handwritten.py`` (bare FastAPI) and ``libraries.py`` (FastAPI with the
composed app's behaviour from the usual libraries: asgi-correlation-id, a security-headers
middleware, problem+json handlers, a structlog access log). All three serve
``GET /items/{id}`` on one uvicorn worker on loopback; wrk drives each at the same fixed
concurrency, in interleaved rounds so that machine noise hits both alike.
Logs go to /dev/null (rendering them is part of the cost, writing them to a terminal is
not). Usage::

    bench/http/run.sh [--rounds 3] [--seconds 10] [--connections 32] [--threads 2]

Two configurations are measured:

* ``defaults``: each app as it ships: the hand-written app under ``uvicorn app:app``
  (uvicorn's access log on), the composed app under ``rainmaker run`` (our structured
  access log on, uvicorn's off);
* ``no-access-log``: both with their access log off, to isolate the middleware cost.

The access log's cost is the composed app's throughput lost between the two.
``inprocess.py`` measures CPU (or callgrind instructions) per request without the network,
the steadier figure on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.results import Result as Row
from bench.results import write_results

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(kind: str, access_log: bool, extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ)
    if kind in ("handwritten", "libraries"):
        # The same loop and HTTP parser `rainmaker run` picks (uvicorn's "auto" choice).
        cmd = [PYTHON, "-m", "uvicorn", f"{kind}:app", "--host", "127.0.0.1",
               "--port", str(port), "--app-dir", str(HERE), "--loop", "uvloop",
               "--http", "httptools"]
        if kind == "libraries":
            # Its access log is its structlog middleware, never uvicorn's.
            cmd.append("--no-access-log")
            env["BENCH_ACCESS_LOG"] = "1" if access_log else "0"
        elif not access_log:
            cmd.append("--no-access-log")
    else:
        cmd = [PYTHON, "-c", "from rainmaker.cli.main import main; main()", "run",
               "--app", str(HERE / "composed"), "--port", str(port),
               "--set", "http.shutdown.delay=0"]
        if not access_log:
            cmd += ["--set", "http.access_log=false"]
        for setting in extra:
            cmd += ["--set", setting]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, connections: int, threads: int) -> tuple[float, float, int]:
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
         f"{url}/items/42"],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, float(p99.group(1)) * _UNITS[p99.group(2)], requests


Result = tuple[float, float, float]  # req/s, p99 ms, server CPU µs per request
BASELINES = {"handwritten": "bare FastAPI", "libraries": "FastAPI + the usual libraries"}
GOALS = {"defaults": ">= 0.97x", "no-access-log": ">= 1.0x"}


def measure(access_log: bool, args: argparse.Namespace) -> dict[str, list[Result]]:
    kinds = ["handwritten", "libraries", "composed"]
    return interleaved_rounds({kind: start(kind, access_log, args.set) for kind in kinds}, args)


def interleaved_rounds(
    servers: dict[str, tuple[subprocess.Popen[bytes], str]], args: argparse.Namespace
) -> dict[str, list[Result]]:
    """wrk against every server, round after round in alternating order; then stop them.

    Alternating the order spreads the machine's drift over every side alike.
    """
    results: dict[str, list[Result]] = {kind: [] for kind in servers}
    try:
        for _, url in servers.values():  # warm up every side
            wrk(url, 2, args.connections, args.threads)
        for round_no in range(args.rounds):
            order = list(results) if round_no % 2 == 0 else list(reversed(results))
            for kind in order:
                process, url = servers[kind]
                cpu = cpu_seconds(process.pid)
                rps, p99, requests = wrk(url, args.seconds, args.connections, args.threads)
                cpu_us = (cpu_seconds(process.pid) - cpu) / requests * 1e6
                results[kind].append((rps, p99, cpu_us))
                print(f"  round {round_no + 1} {kind:<12} {rps:9.0f} req/s  p99 {p99:6.2f} ms"
                      f"  cpu {cpu_us:6.1f} us/req", flush=True)
    finally:
        for process, _ in servers.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=["defaults", "no-access-log"])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra setting for the composed app (diagnostics)")
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s per configuration")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 3
    figures: list[Row] = []
    composed_rps: dict[str, float] = {}
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    os.environ.setdefault("RAINMAKER_PROFILE", "development")
    for label, access_log in (("defaults", True), ("no-access-log", False)):
        if args.only and args.only != label:
            continue
        print(f"{label}:", flush=True)
        results = measure(access_log, args)
        medians = {}
        for kind, rows in results.items():
            rps, p99, cpu = (sorted(column) for column in zip(*rows, strict=True))
            medians[kind] = [statistics.median(c) for c in (rps, p99, cpu)]
            print(f"  median {kind:<12} {medians[kind][0]:9.0f} req/s "
                  f"(range {rps[0]:.0f}-{rps[-1]:.0f})  p99 {medians[kind][1]:6.2f} ms "
                  f"(range {p99[0]:.1f}-{p99[-1]:.1f})  cpu {medians[kind][2]:6.1f} us/req")
        comp = medians["composed"]
        # The libraries baseline's goal holds with its behaviour whole (its access log on).
        libraries_goal = ">= 1.3x" if label == "defaults" else ""
        for base_kind, goal in (("handwritten", GOALS[label]), ("libraries", libraries_goal)):
            hand = medians[base_kind]
            per_round = ", ".join(f"{c[0] / h[0]:.2f}" for h, c in
                                  zip(results[base_kind], results["composed"], strict=True))
            print(f"  ratio vs {base_kind}: throughput {comp[0] / hand[0]:.3f}x  "
                  f"p99 {comp[1] / hand[1]:.3f}x  cpu/request {comp[2] / hand[2]:.3f}x  "
                  f"(per-round throughput ratios: {per_round})", flush=True)
            figure = f"GET /items/{{id}} ({label}, vs {BASELINES[base_kind]})"
            p99_goal = "<= 1.0x" if base_kind == "handwritten" and label != "defaults" else ""
            figures += [
                Row("http", f"{figure} throughput", "req/s", comp[0], hand[0], True, goal),
                Row("http", f"{figure} p99", "ms", comp[1], hand[1], False, p99_goal),
                Row("http", f"{figure} CPU per request", "µs", comp[2], hand[2], False),
            ]
        composed_rps[label] = comp[0]
    if len(composed_rps) == 2:
        # What the access log costs our own throughput (goal: at most 10 %).
        cost = (1 - composed_rps["defaults"] / composed_rps["no-access-log"]) * 100
        print(f"access log cost: {cost:.1f} % of the composed app's throughput")
        figures.append(Row("http", "access log cost (composed throughput lost)", "%", cost,
                           None, False, "<= 10 %"))
    write_results(args.json, figures)


if __name__ == "__main__":
    main()
