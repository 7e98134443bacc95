"""HTTP benchmark: a composed app (framework-fastapi + one local pattern) vs hand-written FastAPI.

Both serve ``GET /items/{id}`` on one uvicorn worker on loopback; wrk drives each at the
same fixed concurrency, in interleaved rounds so that machine noise hits both alike.
Logs go to /dev/null (rendering them is part of the cost, writing them to a terminal is
not). Usage::

    bench/http/run.sh [--rounds 3] [--seconds 10] [--connections 32] [--threads 2]

Two configurations are measured:

* ``defaults``: each app as it ships: the hand-written app under ``uvicorn app:app``
  (uvicorn's access log on), the composed app under ``rainmaker run`` (our structured
  access log on, uvicorn's off);
* ``no-access-log``: both with their access log off, to isolate the middleware cost.
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

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(kind: str, access_log: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    if kind == "handwritten":
        cmd = [PYTHON, "-m", "uvicorn", "handwritten:app", "--host", "127.0.0.1",
               "--port", str(port), "--app-dir", str(HERE)]
        if not access_log:
            cmd.append("--no-access-log")
    else:
        cmd = [PYTHON, "-c", "from rainmaker.cli.main import main; main()", "run",
               "--app", str(HERE / "composed"), "--port", str(port),
               "--set", "http.shutdown.delay=0"]
        if not access_log:
            cmd += ["--set", "http.access_log=false"]
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


def wrk(url: str, seconds: int, connections: int, threads: int) -> tuple[float, float]:
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
         f"{url}/items/42"],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    return rps, float(p99.group(1)) * _UNITS[p99.group(2)]


def measure(access_log: bool, args: argparse.Namespace) -> dict[str, list[tuple[float, float]]]:
    results: dict[str, list[tuple[float, float]]] = {"handwritten": [], "composed": []}
    servers = {kind: start(kind, access_log) for kind in results}
    try:
        for _, url in servers.values():  # warm up both
            wrk(url, 2, args.connections, args.threads)
        for round_no in range(args.rounds):
            order = list(results) if round_no % 2 == 0 else list(reversed(results))
            for kind in order:
                rps, p99 = wrk(servers[kind][1], args.seconds, args.connections, args.threads)
                results[kind].append((rps, p99))
                print(f"  round {round_no + 1} {kind:<12} {rps:9.0f} req/s  p99 {p99:6.2f} ms",
                      flush=True)
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
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    os.environ.setdefault("RAINMAKER_PROFILE", "development")
    for label, access_log in (("defaults", True), ("no-access-log", False)):
        if args.only and args.only != label:
            continue
        print(f"{label}:", flush=True)
        results = measure(access_log, args)
        hand_rps = statistics.median(r for r, _ in results["handwritten"])
        comp_rps = statistics.median(r for r, _ in results["composed"])
        hand_p99 = statistics.median(p for _, p in results["handwritten"])
        comp_p99 = statistics.median(p for _, p in results["composed"])
        print(f"  median handwritten {hand_rps:9.0f} req/s  p99 {hand_p99:6.2f} ms")
        print(f"  median composed    {comp_rps:9.0f} req/s  p99 {comp_p99:6.2f} ms")
        print(f"  ratio: throughput {comp_rps / hand_rps:.3f}x  p99 {comp_p99 / hand_p99:.3f}x",
              flush=True)


if __name__ == "__main__":
    main()
