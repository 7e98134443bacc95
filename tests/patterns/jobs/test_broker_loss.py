"""jobs-redis when Redis loses what it held (issue 22, finding 2).

Each test starts a private ``redis-server`` on a free loopback port with no persistence
(``--save "" --appendonly no``), so ``FLUSHDB`` and ``CONFIG SET`` touch nobody else's data.
A flushed Redis used to drop committed jobs silently (the outbox rows said dispatched);
now jobs enqueued inside a transaction stay in ``jobs_redis_tracked`` until a worker
settles them and the worker's reconciler sends the lost ones again; health says degraded,
naming the fix, while Redis persists nothing or may evict keys.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rainmaker.capabilities.database import Database
from rainmaker.capabilities.jobs import Jobs
from rainmaker.kernel.application import Application
from rainmaker.patterns.jobs.commands import jobs_app
from rainmaker.patterns.jobs.module import JobsModule
from rainmaker.testing.contracts.jobs import Recorder
from rainmaker.testing.harness import build_app, composition_text
from rainmaker.testing.servers import require_server
from rainmaker.testing.smtp_server import free_port

WAIT = 30.0
REGISTRIES = ["rainmaker.testing.contracts.jobs:contract_jobs"]

pytestmark = pytest.mark.asyncio


class PrivateRedis:
    """A ``redis-server`` of this test only, on 127.0.0.1, persisting nothing."""

    def __init__(self, folder: Path, *extra: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            require_server("redis-server (binary)", "127.0.0.1", 0)  # skips, fails under CI
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                str(binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",  # an AOF turned on by a test is written here, not in the cwd
                str(folder),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while self._ping() is not True:
            assert time.monotonic() < deadline, "the private redis-server did not start"
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def command(self, *args: str) -> Any:
        import redis

        client = redis.Redis(port=self.port)
        try:
            return client.execute_command(*args)  # type: ignore[no-untyped-call]
        finally:
            client.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[..., PrivateRedis]]:
    started: list[PrivateRedis] = []

    def start(*extra: str) -> PrivateRedis:
        folder = tmp_path / f"redis-{len(started)}"
        folder.mkdir()
        server = PrivateRedis(folder, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def compose(tmp_path: Path, url: str, **jobs: Any) -> dict[str, dict[str, Any]]:
    return {
        "db": {
            "use": "database-sqlite",
            "path": str(tmp_path / "app.db"),
            "outbox_poll_interval": 0.1,
        },
        "jobs": {
            "use": "jobs-redis",
            "url": url,
            "key_prefix": "loss",
            "registries": REGISTRIES,
            "visibility_timeout": 2.0,
            "drain_timeout": 5.0,
            **jobs,
        },
    }


async def eventually(check: Callable[[], Any], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def jobs_health(app: Application) -> Any:
    report = await app.health()
    return {item.instance: item for item in report.instances}["jobs"]


@pytest.fixture
async def running(
    private_redis: Callable[..., PrivateRedis], tmp_path: Path
) -> AsyncIterator[tuple[Application, PrivateRedis]]:
    server = private_redis()
    app = build_app(compose(tmp_path, server.url, reconcile_after=1.0), root=tmp_path, name="loss")
    async with app.running():
        yield app, server


async def test_flushdb_loses_no_committed_job(
    running: tuple[Application, PrivateRedis], tmp_path: Path
) -> None:
    app, server = running
    jobs = app.services.require(Jobs)
    database = app.services.require(Database)
    recorder = Recorder(tmp_path / "record.jsonl")
    path = str(recorder.path)
    committed = set()
    for i in range(5):
        async with database.transaction():
            committed.add(await jobs.enqueue("contract.record", path, f"tx{i}"))
    async with database.transaction():  # due later: waits in the delayed set, then flushed
        committed.add(await jobs.enqueue("contract.record", path, "late", delay=0.5))
    direct = await jobs.enqueue("contract.record", path, "direct")

    async def relayed() -> bool:
        # 5 committed + 1 direct in the stream, the late one in the delayed set (no worker
        # moves it yet), and the outbox believes its work is done.
        return (
            int(server.command("XLEN", "loss:q:default")) == 6
            and int(server.command("ZCARD", "loss:delayed:default")) == 1
            and await database.outbox.pending() == 0
        )

    await eventually(relayed, "the outbox relay to send the committed jobs")

    # What the operator sees: the committed jobs are tracked until a worker settles them.
    (tmp_path / "rainmaker.toml").write_text(
        composition_text("loss", compose(tmp_path, server.url, reconcile_after=1.0))
    )
    result = await asyncio.to_thread(
        CliRunner().invoke, jobs_app, ["stats", "--app", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tracked"] == {"tracked": 6, "resent": 0}

    server.command("FLUSHDB")

    module = app.instances["jobs"].module
    assert isinstance(module, JobsModule)
    worker = asyncio.create_task(module.work(concurrency=4))
    try:
        await eventually(
            lambda: committed <= {line["job_id"] for line in recorder.lines()},
            f"every committed job to run again; ran: {recorder.lines()}",
        )
        service = module.service
        assert service is not None

        async def settled() -> bool:
            return await service.tracked() == {"tracked": 0, "resent": 0}

        await eventually(settled, "the tracked rows to be settled")
    finally:
        module.stop_working()
        await asyncio.wait_for(worker, WAIT)
    ran = [line["job_id"] for line in recorder.lines()]
    assert sorted(ran) == sorted(committed)  # each committed job exactly once
    # Outside a transaction nothing but Redis held the job: documented as lost.
    assert direct not in ran


async def test_health_names_the_fix_when_redis_can_lose_jobs(
    running: tuple[Application, PrivateRedis],
) -> None:
    app, server = running
    health = await jobs_health(app)
    assert health.status.value == "degraded"
    problems = health.details["durability"]["problems"]
    assert any("persists nothing" in p and "appendonly yes" in p for p in problems), problems
    assert health.details["durability"]["appendonly"] == "no"

    server.command("CONFIG", "SET", "appendonly", "yes")
    health = await jobs_health(app)
    assert health.status.value == "up", health.details

    server.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    health = await jobs_health(app)
    assert health.status.value == "degraded"
    (problem,) = health.details["durability"]["problems"]
    assert "allkeys-lru" in problem and "maxmemory-policy noeviction" in problem


async def test_config_disabled_says_unknown(
    private_redis: Callable[..., PrivateRedis], tmp_path: Path
) -> None:
    server = private_redis("--rename-command", "CONFIG", "")
    app = build_app(compose(tmp_path, server.url), root=tmp_path, name="loss")
    async with app.running():
        health = await jobs_health(app)
    durability = health.details["durability"]
    assert durability["appendonly"] == "unknown"
    assert durability["maxmemory_policy"] == "unknown"
    assert any("unknown" in note for note in durability["notes"]), durability
    assert health.status.value == "up"  # cannot tell: a note, not a verdict


async def test_a_deduplicated_job_is_not_left_tracked(
    running: tuple[Application, PrivateRedis], tmp_path: Path
) -> None:
    """Two transactional enqueues with one idempotency key: the second is dropped at relay
    time, so it must leave the tracked table too (else the reconciler would resend it)."""
    app, server = running
    jobs = app.services.require(Jobs)
    database = app.services.require(Database)
    path = str(tmp_path / "record.jsonl")
    for _ in range(2):
        async with database.transaction():
            await jobs.enqueue("contract.record", path, "once", idempotency_key="welcome:7")
    module = app.instances["jobs"].module
    assert isinstance(module, JobsModule) and module.service is not None
    service = module.service

    async def one_left() -> bool:
        return await database.outbox.pending() == 0 and await service.tracked() == {
            "tracked": 1,
            "resent": 0,
        }

    await eventually(one_left, "the relay to send one job and drop its duplicate")
    assert int(server.command("XLEN", "loss:q:default")) == 1
