"""`make demo`: install, migrate and start the demo SaaS with embedded defaults, showing progress.

Runs on the system ``python3`` (standard library only, since nothing is installed yet):

1. create the virtual environment when it is missing;
2. install Rainmaker with the extras the default profile needs (skipped when ``make
   install``'s stamp or this script's is newer than ``pyproject.toml``);
3. upgrade every pattern's tables (``rainmaker db upgrade``);
4. start ``rainmaker run`` and ``rainmaker worker`` side by side (the worker runs the jobs:
   the welcome email), wait until ``/health/ready`` answers 200 and say where to look.

Ctrl-C (or SIGTERM) stops both processes, each draining gracefully; whichever exits first
stops the other. Every step shows a spinner with the elapsed time and what it is doing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

APP = Path(__file__).resolve().parent
REPO = APP.parent.parent
# What the default profile composes: HTTP, SQLite, auth, local jobs, console email,
# local payments and the dashboard (smtp too: the email module imports aiosmtplib even for
# email-console). `make install` installs everything (the dev extra).
EXTRAS = "http,database,auth,jobs,email,smtp,payments,dashboard"
DEMO_STAMP = ".demo-stamp"
MAKE_STAMP = ".installed-stamp"
# The secrets the composition reads with no default (a default in the repository is a
# secret anyone can sign with): generated on first run into the app's .env (ignored by
# git), which rainmaker reads for variables the environment does not set, so
# `rainmaker run --app examples/saas` by hand finds them too.
DEV_SECRETS = APP / ".env"
SECRET_NAMES = ("JWT_SECRET", "PAYMENTS_WEBHOOK_SECRET")
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0

TTY = sys.stdout.isatty()
FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Step:
    """One line of progress: a spinner, the step's name, its detail and the elapsed time."""

    def __init__(self, number: int, total: int, title: str) -> None:
        self.label = f"[{number}/{total}] {title}"
        self.detail = ""
        self.started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        if TTY:
            self._thread.start()
        else:
            print(f"{self.label} …", flush=True)

    def _spin(self) -> None:
        frame = 0
        while not self._done.wait(0.1):
            elapsed = time.monotonic() - self.started
            detail = f" — {self.detail}" if self.detail else ""
            line = f"{FRAMES[frame % len(FRAMES)]} {self.label}{detail}"[:100]
            sys.stdout.write(f"\r\033[K{line} ({elapsed:.1f}s)")
            sys.stdout.flush()
            frame += 1

    def finish(self, ok: bool = True, note: str = "") -> None:
        self._done.set()
        if TTY:
            self._thread.join()
            sys.stdout.write("\r\033[K")
        elapsed = time.monotonic() - self.started
        mark = "\033[32m✓\033[0m" if ok and TTY else ("✓" if ok else "✗")
        extra = f" — {note}" if note else ""
        print(f"{mark} {self.label}{extra} ({elapsed:.1f}s)", flush=True)


def run_step(step: Step, command: Sequence[str], describe: Callable[[str], str | None]) -> None:
    """Run ``command``, feeding its output lines to the step's detail; exit on failure."""
    lines: list[str] = []
    with subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip()
            lines.append(line)
            detail = describe(line)
            if detail:
                step.detail = detail
    if process.returncode != 0:
        step.finish(ok=False)
        print("\n".join(lines[-30:]), file=sys.stderr)
        sys.exit(process.returncode or 1)


def pip_detail(line: str) -> str | None:
    """The part of a pip or uv output line worth showing beside the spinner, if any."""
    prefixes = ("Collecting ", "Downloading ", "Building ", "Installing collected packages")
    uv_prefixes = ("Resolved ", "Prepared ", "Installed ", "Built ")
    for prefix in (*prefixes, *uv_prefixes):
        if line.strip().startswith(prefix):
            return line.strip().split(" (")[0][:70]
    return None


def fresh(stamp: Path) -> bool:
    pyproject = REPO / "pyproject.toml"
    return stamp.exists() and stamp.stat().st_mtime >= pyproject.stat().st_mtime


def install(venv: Path, total: int) -> None:
    python = venv / "bin" / "python"
    step = Step(1, total, "install")
    if not python.exists():
        step.detail = f"creating {venv.name}"
        run_step(step, [sys.executable, "-m", "venv", str(venv)], lambda _line: None)
    if fresh(venv / MAKE_STAMP) or fresh(venv / DEMO_STAMP):
        step.finish(note="up to date")
        return
    if not install_with_uv(step, venv):
        step.detail = "uv unavailable: installing with pip"
        run_step(
            step,
            [str(python), "-m", "pip", "install", "--progress-bar", "off", "-e", f".[{EXTRAS}]"],
            pip_detail,
        )
    (venv / DEMO_STAMP).touch()
    step.finish()


def install_with_uv(step: Step, venv: Path) -> bool:
    """Install the demo's extras with uv (bootstrapped into the venv by pip when absent).

    uv takes seconds where pip takes half a minute (zero to running, issue 23). False when uv
    cannot be installed or its install fails: the caller falls back to plain pip.
    """
    python, uv = venv / "bin" / "python", venv / "bin" / "uv"
    if not uv.exists():
        step.detail = "bootstrapping uv with pip"
        bootstrap = [str(python), "-m", "pip", "install", "--quiet", "uv"]
        done = subprocess.run(
            bootstrap, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        if done.returncode != 0:
            return False
    command = [str(uv), "pip", "install", "--python", str(python), "-e", f".[{EXTRAS}]"]
    step.detail = "uv pip install"
    with subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            detail = pip_detail(raw)
            if detail:
                step.detail = detail
    return process.returncode == 0


def migrate(venv: Path, total: int) -> None:
    step = Step(2, total, "migrate")
    step.detail = "rainmaker db upgrade"
    moved: list[str] = []

    def describe(line: str) -> str | None:
        if line.startswith("✓"):
            moved.append(line)
            return line[1:].strip()[:70]
        return None

    run_step(step, [str(venv / "bin" / "rainmaker"), "db", "upgrade", "--app", str(APP)], describe)
    up_to_date = moved == [] or any("up to date" in line for line in moved)
    step.finish(note="up to date" if up_to_date else f"{len(moved)} revision(s) applied")


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def stop(processes: list[subprocess.Popen[bytes]]) -> int:
    """SIGINT every process still running, wait for them (then kill); the worst exit code."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return max((abs(p.returncode or 0) for p in processes), default=0)


def serve(venv: Path, host: str, port: int, total: int) -> int:
    step = Step(3, total, "start")
    rainmaker = str(venv / "bin" / "rainmaker")
    base = f"http://{host}:{port}"
    # The children get sessions of their own, so a Ctrl-C in the terminal reaches only this
    # script, which forwards exactly one SIGINT to each (a second one would make uvicorn
    # quit without draining).
    web = subprocess.Popen(
        [rainmaker, "run", "--app", str(APP), "--host", host, "--port", str(port)],
        cwd=REPO,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [rainmaker, "worker", "--app", str(APP)], cwd=REPO, start_new_session=True
    )
    processes = [web, worker]
    step.detail = f"waiting for {base}/health/ready"
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready(f"{base}/health/ready"):
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            step.finish(ok=False, note="the app did not become ready (see the log above)")
            return stop(processes) or 1
        time.sleep(0.2)
    step.finish(note=f"web pid {web.pid}, worker pid {worker.pid}")
    print(
        f"\nThe demo SaaS runs on {base} with embedded defaults (SQLite, local files, console\n"
        "email, local jobs and payments: no server needed).\n\n"
        f"  API docs    {base}/docs\n"
        f"  dashboard   {base}/_rainmaker\n"
        f"  health      {base}/health\n"
        f"  emails      {APP / 'var' / 'outbox'} (.eml files)\n\n"
        "Try: POST /auth/register, confirm with the code from the email (POST /auth/verify),\n"
        "POST /auth/login; GET /orgs shows your personal organization. POST /projects,\n"
        "PUT /projects/{id}/file, POST /payments/orgs/{org}/checkout with plan 'pro', pay on\n"
        "the checkout page; GET /projects/account shows the organization's limit. Invite a\n"
        "teammate (POST /orgs/{org}/invitations) and make a CI key (POST\n"
        "/orgs/{org}/api-keys) for examples/saas/scripts/ci_create_project.py.\n"
        "Ctrl-C stops the web server and the worker.\n",
        flush=True,
    )

    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stopping.is_set() and all(p.poll() is None for p in processes):
        stopping.wait(0.5)
    print("\nStopping the web server and the worker …", flush=True)
    code = stop(processes)
    return 0 if stopping.is_set() else code or 1


def dev_secrets(path: Path = DEV_SECRETS) -> dict[str, str]:
    """This checkout's own development secrets: read from ``path``, the missing ones
    generated and appended (owner-only; other lines are kept), so tokens survive a restart
    of the demo."""
    found: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name in SECRET_NAMES and value:
                found[name] = value
    missing = [name for name in SECRET_NAMES if name not in found]
    if missing:
        for name in missing:
            prefix = "whsec_" if "WEBHOOK" in name else ""
            found[name] = prefix + secrets.token_urlsafe(48)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        kept = path.read_text()
        lines = [f"{name}={found[name]}" for name in missing]
        with path.open("a") as out:
            if kept and not kept.endswith("\n"):
                out.write("\n")
            out.write("# Generated by `make demo` for this checkout only; never commit.\n")
            out.write("\n".join(lines) + "\n")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--venv", default=str(REPO / ".venv"), help="virtual environment")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    venv = Path(args.venv)
    if not venv.is_absolute():
        venv = REPO / venv
    total = 3
    for name, value in dev_secrets().items():
        os.environ.setdefault(name, value)  # the caller's own secret wins; children inherit
    install(venv, total)
    migrate(venv, total)
    return serve(venv, args.host, args.port, total)


if __name__ == "__main__":
    sys.exit(main())
