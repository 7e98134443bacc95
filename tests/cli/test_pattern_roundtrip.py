"""The whole round trip of a third-party pattern, as its author and its user live it:

create -> test -> validate -> publish to a folder index -> ``pip install`` from that index
into a fresh virtual environment -> compose it beside built-in patterns -> its route
answers over HTTP from a real ``rainmaker run`` on a free loopback port.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rainmaker.cli.main import app
from rainmaker.testing.smtp_server import free_port

pytestmark = pytest.mark.slow
WAIT = 60.0  # bound for the server to come up; never a performance claim


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=300)
    return result.exit_code, result.output


def fresh_venv(folder: Path) -> Path:
    """A venv without pip that sees this environment's packages (rainmaker and its deps).

    A ``.pth`` line adds this interpreter's site-packages as a site folder (so its own
    ``.pth`` files, the editable rainmaker among them, apply): no network needed.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    parent = sysconfig.get_path("purelib")
    Path(site, "_rainmaker_parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def test_create_test_validate_publish_install_compose_serve(tmp_path: Path) -> None:
    package = tmp_path / "greeter"
    index = tmp_path / "index"

    code, output = invoke("pattern", "create", "greeter", "--path", str(package))
    assert code == 0, output
    assert (package / "src/greeter/migrations/0001_initial.py").is_file()

    code, output = invoke("pattern", "validate", str(package))
    assert code == 0, output

    # publish runs validate and test first; its output carries the test summary.
    code, output = invoke("pattern", "publish", str(package), "--to", str(index))
    assert code == 0, output
    assert "✓ lifecycle conformance: 6 passed" in output
    assert "✓ package tests: 2 passed" in output
    assert "published greeter 0.1.0" in output
    files = sorted(p.name for p in (index / "simple" / "greeter").iterdir())
    assert files == [
        "greeter-0.1.0-py3-none-any.whl",
        "greeter-0.1.0.pattern-manifest.json",
        "greeter-0.1.0.tar.gz",
        "index.html",
    ]

    code, output = invoke(
        "pattern", "publish", str(package), "--to", str(index), "--skip-tests"
    )
    assert code == 1
    assert "greeter 0.1.0 is already published" in output

    python = fresh_venv(tmp_path / "venv")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--isolated",
         "--quiet", "--no-deps", "--index-url", (index / "simple").as_uri(), "greeter"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    where = subprocess.run(
        [str(python), "-c", "import greeter; print(greeter.__file__)"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert str(tmp_path / "venv") in where  # installed from the index, not the source folder

    app_folder = tmp_path / "app"
    app_folder.mkdir()
    (app_folder / "rainmaker.toml").write_text(
        '[app]\nname = "roundtrip"\n\n'
        '[patterns.web]\nuse = "framework-fastapi"\nshutdown = { delay = 0 }\n\n'
        '[patterns.db]\nuse = "database-sqlite"\npath = "app.db"\n\n'
        '[patterns.cache]\nuse = "cache-memory"\n\n'
        '[patterns.greeter]\nuse = "greeter"\ngreeting = "hello from the index"\n'
    )
    port = free_port()
    server = subprocess.Popen(
        [str(python), "-m", "rainmaker", "run", "--app", str(app_folder), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=app_folder,
        env={**os.environ, "RAINMAKER_PROFILE": "development"},
    )  # fmt: skip
    try:
        response = _get_when_up(f"http://127.0.0.1:{port}/greeter/hello", server)
        assert response.status_code == 200
        assert response.json() == {"message": "hello from the index"}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            out, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            out, _ = server.communicate()
    assert server.returncode == 0, out.decode(errors="replace")[-2000:]
    # Its migration ran on the app's database (sqlite migrates at start), under its prefix.
    with sqlite3.connect(app_folder / "app.db") as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master")}
    assert "greeter_notes" in tables


def _get_when_up(url: str, server: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + WAIT
    while True:
        if server.poll() is not None:
            out = server.stdout.read().decode(errors="replace") if server.stdout else ""
            pytest.fail(f"rainmaker run exited with {server.returncode}: {out[-2000:]}")
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
