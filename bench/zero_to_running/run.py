"""Zero to running: from ``git clone`` to the demo's first 200, on this machine.

Clones the repository (its committed HEAD) into a temporary folder, runs ``make demo`` there
(a fresh ``.venv``: venv creation, uv bootstrapped by pip, the install with uv — both may use
their caches of wheels — migrations, then the web server and the worker) on a free port, and
polls ``/health/ready`` until the first 200. Goal (issue 23): at most 20 seconds. ``make demo``
and its children are stopped afterwards::

    .venv/bin/python bench/zero_to_running/run.py [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.results import Result, write_results  # noqa: E402

GOAL = 20.0
TIMEOUT = 600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def python3() -> str:
    """A system Python (>= 3.11) outside the repository's virtual environment."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return shutil.which("python3") or base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="same run (it is one round)")
    parser.add_argument("--json", metavar="PATH", help="also write the figure as JSON rows")
    parser.add_argument("--keep", action="store_true", help="keep the clone")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rm-zero-"))
    clone = folder / "rainmaker"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAINMAKER", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))
    )
    log = folder / "demo.log"
    began = time.perf_counter()
    demo: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        cloned = time.perf_counter() - began
        with open(log, "wb") as out:
            demo = subprocess.Popen(
                ["make", "demo", f"DEMO_PORT={port}", f"PYTHON={python3()}"],
                cwd=clone,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            url = f"http://127.0.0.1:{port}/health/ready"
            while True:
                if demo.poll() is not None:
                    print(log.read_text()[-3000:])
                    raise SystemExit(f"make demo exited with {demo.returncode}")
                if time.perf_counter() - began > TIMEOUT:
                    raise SystemExit(f"no 200 within {TIMEOUT:g} s")
                try:
                    if httpx.get(url, timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        total = time.perf_counter() - began
        steps = [line for line in log.read_text().splitlines() if line.startswith("✓")]
        print(f"git clone {cloned:.1f} s; " + "; ".join(s[2:] for s in steps))
        print(f"zero to running: {total:.1f} s (goal ≤ {GOAL:g} s)")
        write_results(
            args.json,
            [
                Result(
                    "zero_to_running",
                    "git clone -> make demo (fresh .venv, pip cache allowed) -> first 200",
                    "s",
                    total,
                    None,
                    False,
                    f"≤ {GOAL:g} s",
                    note="; ".join(s[2:] for s in steps),
                )
            ],
        )
        return 0 if total <= GOAL else 1
    finally:
        if demo is not None and demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)  # make, demo.py and (through it) both servers
            try:
                demo.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
        stop_leftovers(clone)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def stop_leftovers(clone: Path) -> None:
    """Stop every process still running from the clone (the demo's servers), by pid."""
    mine = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(clone) in command:
            mine.append(int(entry.name))
    for sig in (signal.SIGINT, signal.SIGKILL):
        for pid in mine:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in mine):
            time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
