"""A broker that is unreachable at start or lost mid-run (jobs-redis, jobs-rabbitmq).

A :class:`~rainmaker.testing.proxy.TcpProxy` sits between the app (and its in-process
worker) and the real broker; stopping it is the outage. Unreachable at start: start fails
naming ``host:port``. Lost mid-run: enqueue raises ``UnavailableError`` (503) outside a
transaction and is held in the outbox inside one, health goes down; when the proxy comes
back the worker reconnects by itself and every accepted job runs (none lost).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from rainmaker.capabilities.database import Database
from rainmaker.capabilities.jobs import Jobs
from rainmaker.kernel.application import Application
from rainmaker.kernel.errors import UnavailableError
from rainmaker.patterns.jobs.module import JobsModule
from rainmaker.testing.contracts.jobs import Recorder
from rainmaker.testing.harness import build_app
from rainmaker.testing.proxy import TcpProxy
from tests.patterns.jobs.conftest import (
    RABBIT_HOST,
    RABBIT_PORT,
    REDIS_HOST,
    REDIS_PORT,
    drop_rabbitmq_namespace,
    drop_redis_namespace,
)

WAIT = 60.0
REGISTRIES = ["rainmaker.testing.contracts.jobs:contract_jobs"]

pytestmark = pytest.mark.asyncio


async def eventually(check: Callable[[], Any], what: str, timeout: float = WAIT) -> None:
    """Poll ``check`` (sync or async, truthy when done) within a generous bound."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@pytest.fixture(params=["redis", "rabbitmq"])
async def backend(
    request: pytest.FixtureRequest, namespace: str
) -> AsyncIterator[tuple[str, Callable[[int], dict[str, Any]]]]:
    """``(pattern id, settings for a broker behind 127.0.0.1:<port>)``; cleans up after."""
    if request.param == "redis":
        request.getfixturevalue("redis_server")

        def redis_settings(port: int) -> dict[str, Any]:
            return {
                "use": "jobs-redis",
                "url": f"redis://127.0.0.1:{port}/0",
                "key_prefix": namespace,
            }

        yield (REDIS_HOST, REDIS_PORT), redis_settings  # type: ignore[misc]
        await drop_redis_namespace(namespace)
        return
    request.getfixturevalue("rabbitmq_server")

    def rabbit_settings(port: int) -> dict[str, Any]:
        return {
            "use": "jobs-rabbitmq",
            "url": f"amqp://guest:guest@127.0.0.1:{port}/",
            "exchange": namespace,
        }

    yield (RABBIT_HOST, RABBIT_PORT), rabbit_settings  # type: ignore[misc]
    await drop_rabbitmq_namespace(namespace, [f"{namespace}.default", f"{namespace}.dead"])


def compose(tmp_path: Path, jobs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "db": {
            "use": "database-sqlite",
            "path": str(tmp_path / "app.db"),
            "outbox_poll_interval": 0.2,
        },
        "jobs": {
            **jobs,
            "registries": REGISTRIES,
            "connect_timeout": 1.0,
            "visibility_timeout": 2.0,
            "drain_timeout": 5.0,
        },
    }


async def jobs_health(app: Application) -> Any:
    report = await app.health()
    return {item.instance: item for item in report.instances}["jobs"]


async def test_unreachable_at_start_fails_naming_the_endpoint(
    backend: Any, tmp_path: Path
) -> None:
    (host, port), settings = backend
    proxy = TcpProxy(host, port)
    await proxy.start()
    dead_port = proxy.port
    await proxy.stop()  # nothing listens there now
    app = build_app(compose(tmp_path, settings(dead_port)), root=tmp_path, name="outage")

    async def start() -> None:
        async with app.running():
            pass

    with pytest.raises(Exception) as caught:
        # A generous bound: start must give up (after connect_timeout), not retry forever.
        await asyncio.wait_for(start(), WAIT)
    assert not isinstance(caught.value, TimeoutError)
    text = str(caught.value)
    cause: BaseException | None = caught.value
    while cause is not None:
        text += f" | {cause}"
        cause = cause.__cause__
    assert f"127.0.0.1:{dead_port}" in text, text
    assert "jobs" in text, text


async def test_lost_mid_run_then_back_loses_no_job(backend: Any, tmp_path: Path) -> None:
    (host, port), settings = backend
    recorder = Recorder(tmp_path / "record.jsonl")
    path = str(recorder.path)
    async with TcpProxy(host, port) as proxy:
        app = build_app(compose(tmp_path, settings(proxy.port)), root=tmp_path, name="outage")
        async with app.running():
            jobs = app.services.require(Jobs)
            database = app.services.require(Database)
            module = app.instances["jobs"].module
            assert isinstance(module, JobsModule)
            worker = asyncio.create_task(module.work(concurrency=4))
            try:
                accepted = {await jobs.enqueue("contract.record", path, "before")}
                await eventually(lambda: recorder.lines("before"), "the first job to run")

                await proxy.stop()
                with pytest.raises(UnavailableError) as caught:
                    for _ in range(50):  # a send that still succeeds is accepted: it must run
                        accepted.add(await jobs.enqueue("contract.record", path, "refused"))
                        await asyncio.sleep(0.1)
                assert caught.value.status == 503
                assert f"127.0.0.1:{proxy.port}" in caught.value.message

                async def down() -> bool:
                    return bool((await jobs_health(app)).status.value == "down")

                await eventually(down, "health to go down")
                # Inside a transaction the job waits in the outbox: no error, not lost.
                async with database.transaction():
                    accepted.add(await jobs.enqueue("contract.record", path, "held"))

                await proxy.start()

                async def up() -> bool:
                    # degraded, not up, on a Redis that persists nothing (the test server)
                    status = (await jobs_health(app)).status.value
                    return bool(status in ("up", "degraded"))

                await eventually(up, "health to come back up")
                accepted.add(await jobs.enqueue("contract.record", path, "after"))
                await eventually(
                    lambda: accepted <= {line["job_id"] for line in recorder.lines()},
                    f"every accepted job to run; ran: {recorder.lines()}",
                )
            finally:
                module.stop_working()
                await asyncio.wait_for(worker, WAIT)
    assert {line["job_id"] for line in recorder.lines()} == accepted
