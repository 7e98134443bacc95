"""``fastapi-app``: an existing FastAPI app served by ``rainmaker run``, behaviour intact.

The fixture app (``legacy/main.py``) has its own lifespan (markers and ``app.state``), its
own ``@app.middleware("http")`` (``X-Legacy``) and its own exception handler (418); the
tests copy it into a fresh app folder and serve it on a free loopback port.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

import rainmaker

LEGACY = Path(__file__).parent / "legacy"
READY_WITHIN = 20.0

MakeApp = Callable[..., Path]


def rainmaker_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "rainmaker", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(autouse=True)
def forget_the_fixture_app(tmp_path: Path) -> Iterator[None]:
    """In-process tests import ``legacy`` from their own folder: forget it afterwards."""
    yield
    for name in [m for m in sys.modules if m == "legacy" or m.startswith("legacy.")]:
        del sys.modules[name]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


@pytest.fixture
def make_app(tmp_path: Path) -> MakeApp:
    """An app folder holding the fixture service and a composition mounting it.

    ``legacy`` is the fastapi-app instance's extra lines (``None`` leaves it out),
    ``extra`` is appended to the composition.
    """

    def make(
        legacy: str | None = 'app = "legacy.main:app"\nmount = "/v1"', extra: str = ""
    ) -> Path:
        shutil.copytree(LEGACY, tmp_path / "legacy", dirs_exist_ok=True)
        text = (
            '[app]\nname = "legacytest"\n\n'
            '[patterns.http]\nuse = "framework-fastapi"\n\n'
            "[patterns.http.shutdown]\ndelay = 0.2\n\n"
            '[patterns.cache]\nuse = "cache-memory"\n\n'
        )
        if legacy is not None:
            text += f'[patterns.legacy]\nuse = "fastapi-app"\n{legacy}\n\n'
        (tmp_path / "rainmaker.toml").write_text(text + extra, encoding="utf-8")
        return tmp_path

    return make


@pytest.fixture
def served(make_app: MakeApp, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``rainmaker run`` on the default composition: (process, base URL), ready."""
    markers = tmp_path / "markers"
    markers.mkdir()
    port = free_port()
    process = subprocess.Popen(
        rainmaker_cmd("run", "--app", str(make_app()), "--port", str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "LEGACY_MARKERS": str(markers)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_WITHIN
    try:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited: {process.communicate()}")
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("server not ready in time")
            time.sleep(0.05)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.slow
def test_served_app_keeps_its_behaviour_and_gains_the_edge(
    served: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    process, url = served
    markers = tmp_path / "markers"
    assert (markers / "startup").exists() and not (markers / "shutdown").exists()
    with httpx.Client(base_url=url, timeout=10) as client:
        # Its lifespan ran with the app itself (app.state) and its state reaches requests.
        hello = client.get("/v1/hello", headers={"X-Request-ID": "legacy-req-1"})
        assert hello.json() == {"greeting": "hello from legacy", "flavour": "lifespan state"}
        # Its own middleware still runs, and the edge adds the request id.
        assert hello.headers["x-legacy"] == "yes"
        assert hello.headers["x-request-id"] == "legacy-req-1"
        # Its own exception handler answers its own exception.
        teapot = client.get("/v1/teapot")
        assert teapot.status_code == 418
        assert teapot.json() == {"error": "teapot", "why": "short and stout"}
        assert teapot.headers["x-request-id"]
        # Its HTTPExceptions and its 404s keep the body its clients parse…
        missing = client.get("/v1/items/2")
        assert missing.status_code == 404 and missing.json() == {"detail": "no such item"}
        assert client.get("/v1/nowhere").json() == {"detail": "Not Found"}
        # …while outside its prefix the composed app answers problem+json.
        outside = client.get("/nowhere")
        assert outside.status_code == 404
        assert outside.headers["content-type"] == "application/problem+json"
        assert outside.json()["code"] == "not_found"
        # A route migrated to Inject resolves the composed cache.
        assert client.get("/v1/visits").json() == {"visits": 1}
        assert client.get("/v1/visits").json() == {"visits": 2}
        # A Rainmaker error raised in its routes answers problem+json, owned by the instance.
        conflict = client.post("/v1/visits/reset")
        assert conflict.status_code == 409
        assert conflict.headers["content-type"] == "application/problem+json"
        assert (conflict.json()["code"], conflict.json()["pattern"]) == ("conflict", "legacy")
        assert conflict.headers["x-legacy"] == "yes"  # answered inside the app
        assert client.get("/health/ready").status_code == 200
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert (markers / "shutdown").exists()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "http.request"]
    assert any(line.get("request_id") == "legacy-req-1" for line in access)


def test_routes_lists_the_apps_routes_with_the_instance_as_owner(make_app: MakeApp) -> None:
    result = subprocess.run(
        rainmaker_cmd("routes", "--app", str(make_app()), "--json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    rows = {(tuple(r["methods"]), r["path"]): r for r in json.loads(result.stdout)}
    for path in ("/v1/hello", "/v1/teapot", "/v1/items/{item_id}", "/v1/visits"):
        row = rows[(("GET",), path)]
        assert (row["instance"], row["pattern"]) == ("legacy", "fastapi-app"), row
    assert rows[(("*",), "/v1/*")]["instance"] == "legacy"
    assert rows[(("GET",), "/health/ready")]["instance"] == "http"


async def test_an_api_router_is_included_like_a_patterns_router(make_app: MakeApp) -> None:
    app = rainmaker.load(make_app(legacy='app = "legacy.main:router"\nmount = "/old"'))
    await app.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ping = await client.get("/old/ping")
            assert ping.json() == {"pong": "legacy router"}
            assert "x-request-id" in ping.headers
            # No sub-app here: the composed app answers the prefix's 404 as problem+json.
            missing = await client.get("/old/nowhere")
            assert missing.headers["content-type"] == "application/problem+json"
    finally:
        await app.stop()


def _check(app: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        rainmaker_cmd("check", "--app", str(app)),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )


@pytest.mark.parametrize(
    ("reference", "cause"),
    [
        ("missing_package.main:app", "ModuleNotFoundError: No module named 'missing_package'"),
        (
            "legacy.broken:app",
            "ModuleNotFoundError: No module named 'a_module_that_is_not_installed'",
        ),
        ("legacy.main:nothing_here", "AttributeError"),
        ("legacy.main:NOT_AN_APP", "'legacy.main:NOT_AN_APP' is a dict, not an app"),
        ("legacy.main:TeapotError", "an ASGI app Rainmaker cannot mount"),
    ],
)
def test_a_reference_that_is_not_an_app_is_a_composition_error(
    make_app: MakeApp, reference: str, cause: str
) -> None:
    result = _check(make_app(legacy=f'app = "{reference}"\nmount = "/v1"'))
    assert result.returncode == 2, result.stdout + result.stderr
    output = " ".join((result.stdout + result.stderr).split())
    assert "legacy.app" in output and cause in output, output
    assert "Traceback" not in output


def test_run_refuses_a_reference_that_does_not_import(make_app: MakeApp) -> None:
    app = make_app(legacy='app = "missing_package.main:app"')
    result = subprocess.run(
        rainmaker_cmd("run", "--app", str(app), "--port", str(free_port())),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "No module named 'missing_package'" in " ".join(result.stderr.split())


def test_a_malformed_reference_is_refused_by_the_settings(make_app: MakeApp) -> None:
    result = _check(make_app(legacy='app = "legacy/main.py"'))
    assert result.returncode == 2
    assert "legacy.app" in result.stdout + result.stderr


def test_two_apps_on_one_prefix_are_a_composition_error(make_app: MakeApp) -> None:
    app = make_app(
        extra='[patterns.other]\nuse = "fastapi-app"\napp = "legacy.main:second"\nmount = "/v1"\n'
    )
    result = _check(app)
    assert result.returncode == 2
    output = " ".join((result.stdout + result.stderr).split())
    assert "* /v1 is served by both legacy and other" in output, output


def test_two_apps_on_two_prefixes_are_served(make_app: MakeApp) -> None:
    app = make_app(
        extra='[patterns.other]\nuse = "fastapi-app"\napp = "legacy.main:second"\nmount = "/v2"\n'
    )
    result = subprocess.run(
        rainmaker_cmd("routes", "--app", str(app), "--json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {(tuple(r["methods"]), r["path"]): r["instance"] for r in json.loads(result.stdout)}
    assert rows[(("GET",), "/v1/hello")] == "legacy"
    assert rows[(("GET",), "/v2/other")] == "other"


def test_one_app_object_under_two_prefixes_is_a_composition_error(make_app: MakeApp) -> None:
    app = make_app(
        extra='[patterns.other]\nuse = "fastapi-app"\napp = "legacy.main:app"\nmount = "/v2"\n'
    )
    result = _check(app)
    assert result.returncode == 2
    output = " ".join((result.stdout + result.stderr).split())
    assert "legacy and other mount the same app object" in output, output


def test_a_pattern_route_shadowing_an_apps_route_is_a_composition_error(
    make_app: MakeApp,
) -> None:
    # Mounted at the root, the app's own /docs and /openapi.json meet framework-fastapi's.
    result = _check(make_app(legacy='app = "legacy.main:app"'))
    assert result.returncode == 2
    output = " ".join((result.stdout + result.stderr).split())
    assert "GET /openapi.json is served by both http and legacy" in output, output


def test_mounted_at_the_root_it_answers_what_no_pattern_serves(make_app: MakeApp) -> None:
    # With the composed docs off nothing collides; the health routes still win.
    app = make_app(legacy='app = "legacy.main:app"')
    toml = (app / "rainmaker.toml").read_text(encoding="utf-8")
    toml = toml.replace(
        '[patterns.http]\nuse = "framework-fastapi"\n',
        '[patterns.http]\nuse = "framework-fastapi"\nopenapi_url = ""\ndocs_url = ""\n',
    )
    (app / "rainmaker.toml").write_text(toml, encoding="utf-8")
    result = subprocess.run(
        rainmaker_cmd("routes", "--app", str(app), "--json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {(tuple(r["methods"]), r["path"]): r["instance"] for r in json.loads(result.stdout)}
    assert rows[(("GET",), "/hello")] == "legacy"
    assert rows[(("GET",), "/health/ready")] == "http"
    assert rows[(("*",), "/*")] == "legacy"
