"""The demo SaaS past one machine, for the proof tests: PostgreSQL, Redis and RabbitMQ
reached through loopback TCP proxies the tests control, two ``rainmaker run`` processes and
two ``rainmaker worker`` processes, all on 127.0.0.1.

The app is a copy of ``examples/saas`` in a temporary folder with two additions: a
``proof`` profile (PostgreSQL, Redis cache, ``jobs-rabbitmq``) and the ``proofkit`` local
pattern (``tests/proof/app/proofkit``) whose job runs land in a table the tests count.
A fresh PostgreSQL database is created for the session and dropped after it.

Every figure a proof measures goes to :class:`Figures`; they are written to
``proof-figures.json`` in the session's temporary folder and printed at the end of the run.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from rainmaker.testing.proxy import TcpProxy
from rainmaker.testing.servers import require_server
from rainmaker.testing.smtp_server import free_port
from tests.e2e.conftest import APP as SAAS
from tests.e2e.conftest import RAINMAKER, READY_TIMEOUT, STOP_TIMEOUT, _environment

HERE = Path(__file__).resolve().parent
PROOFKIT = HERE / "app" / "proofkit"
PROFILE = "proof"
RABBITMQ = ("127.0.0.1", 5672)
REDIS = ("127.0.0.1", 6379)
T = TypeVar("T")

PROFILE_TOML = """

# -- proof: the demo past one machine (added by tests/proof) ---------------------------------

[patterns.proofkit]
use = "proofkit"

[profiles.proof.app]
log_format = "json"
log_level = "info"

[profiles.proof.patterns.db]
use = "database-postgres"
url = "${DATABASE_URL}"

[profiles.proof.patterns.cache]
use = "cache-redis"
url = "${REDIS_URL}"

[profiles.proof.patterns.jobs]
use = "jobs-rabbitmq"
url = "${AMQP_URL}"
"""


# -- figures ------------------------------------------------------------------------------------


class Figures:
    """What the proofs measured, by proof name; written as JSON and printed at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, dict[str, Any]] = {}

    def record(self, proof: str, **values: Any) -> None:
        self.values.setdefault(proof, {}).update(values)
        self.path.write_text(json.dumps(self.values, indent=2, sort_keys=True, default=str))


_FIGURES: list[Figures] = []


@pytest.fixture(scope="session")
def figures(tmp_path_factory: pytest.TempPathFactory) -> Figures:
    found = Figures(tmp_path_factory.getbasetemp() / "proof-figures.json")
    _FIGURES.append(found)
    return found


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for found in _FIGURES:
        if found.values:
            terminalreporter.write_sep("-", f"proof figures ({found.path})")
            terminalreporter.write_line(json.dumps(found.values, indent=2, sort_keys=True))


# -- proxies ------------------------------------------------------------------------------------


class Proxies:
    """TcpProxy instances on an event loop of their own thread; cut and restore by name."""

    def __init__(self, targets: dict[str, tuple[str, int]]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxies = {name: TcpProxy(host, port) for name, (host, port) in targets.items()}
        for proxy in self.proxies.values():
            self.call(proxy.start())

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def port(self, name: str) -> int:
        return self.proxies[name].port

    def cut(self, name: str) -> None:
        self.call(self.proxies[name].stop())

    def restore(self, name: str) -> None:
        self.call(self.proxies[name].start())

    def close(self) -> None:
        for proxy in self.proxies.values():
            self.call(proxy.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


# -- the app, its database and its processes ----------------------------------------------------


@dataclass
class Deployment:
    """The copied app, its environment (secrets included) and its database."""

    root: Path
    env: dict[str, str]
    database_url: str  # direct, not through the proxy: what the tests query
    secrets: dict[str, str]
    logs: Path
    proxies: Proxies

    def command(self, *args: str) -> list[str]:
        return [*RAINMAKER, *args, "--app", str(self.root), "--profile", PROFILE]

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        import asyncpg

        async def run() -> list[tuple[Any, ...]]:
            connection = await asyncpg.connect(self.database_url.replace("+asyncpg", ""))
            try:
                return [tuple(row) for row in await connection.fetch(sql, *params)]
            finally:
                await connection.close()

        return asyncio.run(run())

    def scalar(self, sql: str, *params: Any) -> Any:
        return self.query(sql, *params)[0][0]


@dataclass
class Process:
    """One ``rainmaker run`` or ``rainmaker worker`` process and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    base_url: str | None = None
    returncode: int | None = field(default=None)

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} ---\n" + "\n".join(text)


def start_process(deployment: Deployment, name: str, *args: str, **env: str) -> Process:
    """Start ``rainmaker <args>`` on the deployment with its output in ``<name>.log``."""
    log = deployment.logs / f"{name}.log"
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            deployment.command(*args),
            cwd=deployment.root,
            env={**deployment.env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Process(name, popen, log)


def start_web(deployment: Deployment, name: str, **env: str) -> Process:
    port = free_port()
    process = start_process(
        deployment, name, "run", "--host", "127.0.0.1", "--port", str(port), **env
    )
    process.base_url = f"http://127.0.0.1:{port}"
    return process


def wait_ready(processes: list[Process]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    waiting = [p for p in processes if p.base_url is not None]
    while waiting:
        for process in processes:
            if process.popen.poll() is not None:
                pytest.fail(f"{process.name} exited early:\n{process.tail()}")
        try:
            if httpx.get(f"{waiting[0].base_url}/health/ready", timeout=2).status_code == 200:
                waiting.pop(0)
                continue
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"not ready within {READY_TIMEOUT}s:\n{waiting[0].tail()}")
        time.sleep(0.1)


def stop_processes(processes: list[Process], sig: int = signal.SIGTERM) -> None:
    """Signal each running process, wait for it (kill after STOP_TIMEOUT), keep its code."""
    for process in processes:
        if process.popen.poll() is None:
            process.popen.send_signal(sig)
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        try:
            process.returncode = process.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()
            process.returncode = None  # killed: did not exit within the bound


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from tests.patterns.database.conftest import (
        PG_HOST,
        PG_PORT,
        PG_USER,
        create_pg_database,
        drop_pg_database,
    )

    require_server("PostgreSQL", PG_HOST, PG_PORT)
    require_server("Redis", *REDIS)
    require_server("RabbitMQ", *RABBITMQ)
    base = tmp_path_factory.mktemp("proof")
    root = base / "saas"
    shutil.copytree(SAAS, root, ignore=shutil.ignore_patterns("var", "__pycache__"))
    shutil.copytree(PROOFKIT, root / "proofkit", ignore=shutil.ignore_patterns("__pycache__"))
    toml = (root / "rainmaker.toml").read_text()
    toml = toml.replace(
        'local_patterns = ["projects:pattern"]',
        'local_patterns = ["projects:pattern", "proofkit:pattern"]',
    )
    (root / "rainmaker.toml").write_text(toml + PROFILE_TOML)
    logs = base / "logs"
    logs.mkdir()

    name = create_pg_database()
    proxies = Proxies({"postgres": (PG_HOST, PG_PORT), "redis": REDIS, "rabbitmq": RABBITMQ})
    token = secrets.token_hex(4)
    # PostgreSQL trusts loopback, so any password is accepted: one in the URL proves it is
    # never logged.
    db_password = "pgpw" + secrets.token_hex(12)
    app_secrets = {
        "JWT_SECRET": "jwt" + secrets.token_urlsafe(40),
        "PAYMENTS_WEBHOOK_SECRET": "whsec_proof_" + secrets.token_hex(16),
        "DB_PASSWORD": db_password,
    }
    env = _environment(
        {
            "DATABASE_URL": (
                f"postgresql+asyncpg://{PG_USER}:{db_password}@127.0.0.1:"
                f"{proxies.port('postgres')}/{name}"
            ),
            "REDIS_URL": f"redis://127.0.0.1:{proxies.port('redis')}/0",
            "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{proxies.port('rabbitmq')}/",
            "RAINMAKER__CACHE__KEY_PREFIX": f"proof-{token}",
            "RAINMAKER__JOBS__EXCHANGE": f"proof-{token}.jobs",
            "JWT_SECRET": app_secrets["JWT_SECRET"],
            "PAYMENTS_WEBHOOK_SECRET": app_secrets["PAYMENTS_WEBHOOK_SECRET"],
            "SAAS_OUTBOX": str(base / "outbox"),
            "SAAS_STORAGE_ROOT": str(base / "storage"),
            "SAAS_DB_PATH": str(base / "unused.db"),
        }
    )
    deployment = Deployment(
        root, env, f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}", app_secrets, logs, proxies
    )
    try:
        migrate = subprocess.run(
            deployment.command("db", "upgrade"),
            cwd=root,
            env=env,
            capture_output=True,
            timeout=120,
        )
        (logs / "migrate.log").write_bytes(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            pytest.fail("rainmaker db upgrade failed:\n" + (logs / "migrate.log").read_text())
        yield deployment
    finally:
        proxies.close()
        drop_pg_database(name)
        _clean_broker_and_cache(token)


def _clean_broker_and_cache(token: str) -> None:
    """Delete the session's RabbitMQ queues and exchange and its Redis keys."""
    import redis

    client = redis.Redis(*REDIS)
    try:
        keys = list(client.scan_iter(match=f"proof-{token}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()

    async def clean() -> None:
        import aio_pika

        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
        async with connection:
            for queue in ("default",):
                channel = await connection.channel()
                try:
                    await channel.queue_delete(f"proof-{token}.jobs.{queue}")
                except Exception:
                    pass
            channel = await connection.channel()
            try:
                await channel.exchange_delete(f"proof-{token}.jobs")
            except Exception:
                pass

    try:
        asyncio.run(clean())
    except Exception:
        pass


@dataclass
class Cluster:
    """Two web processes and two workers on one deployment."""

    deployment: Deployment
    webs: list[Process]
    workers: list[Process]

    @property
    def urls(self) -> list[str]:
        return [str(web.base_url) for web in self.webs]

    def all(self) -> list[Process]:
        return [*self.webs, *self.workers]

    def alive(self) -> None:
        for process in self.all():
            if process.popen.poll() is not None:
                pytest.fail(f"{process.name} died:\n{process.tail()}")


@pytest.fixture(scope="session")
def cluster(deployment: Deployment) -> Iterator[Cluster]:
    webs = [start_web(deployment, f"web{n}") for n in (1, 2)]
    workers = [start_process(deployment, f"worker{n}", "worker") for n in (1, 2)]
    running = Cluster(deployment, webs, workers)
    try:
        wait_ready(running.all())
        yield running
    finally:
        stop_processes(running.all())
