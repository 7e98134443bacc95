"""A job held by a killed jobs-redis worker is taken over well before the old 60 s
(issue 22, finding 6).

With the default settings (nothing overridden), a ``rainmaker worker`` takes a slow job
and is killed with SIGKILL mid-job; a second worker must run it again within a bound far
below the old fixed wait (``visibility_timeout`` was 60 s by default; it is 15 s now, and
the worker's heartbeat renews jobs in flight every 5 s, so long jobs stay safe). Loopback
only: Redis on 127.0.0.1:6379 under a key prefix of this test alone, SQLite in tmp.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rainmaker.capabilities.jobs import Jobs
from rainmaker.patterns.jobs.settings import RedisJobsSettings
from rainmaker.testing.contracts.jobs import RECORD_ENV, Recorder, WorkerProcess
from rainmaker.testing.harness import build_app, composition_text
from rainmaker.testing.servers import require_server
from tests.patterns.jobs.conftest import REDIS_HOST, REDIS_PORT, REDIS_URL, drop_redis_namespace

pytestmark = pytest.mark.asyncio

# Far below the old 60 s: visibility_timeout (15 s) + one reclaim period (15/4 s) + start-up.
TAKEOVER_BOUND = 30.0
JOB_SECONDS = 3.0


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    require_server("Redis", REDIS_HOST, REDIS_PORT)
    name = f"rmproof-{uuid.uuid4().hex[:10]}"
    yield name
    await drop_redis_namespace(name)


def compose(tmp_path: Path, prefix: str) -> dict[str, dict[str, Any]]:
    return {
        "db": {"use": "database-sqlite", "path": str(tmp_path / "app.db")},
        "jobs": {
            "use": "jobs-redis",
            "url": REDIS_URL,
            "key_prefix": prefix,
            "registries": ["rainmaker.testing.contracts.jobs:contract_jobs"],
            # visibility_timeout left at its default on purpose
        },
    }


async def test_killed_workers_job_is_taken_over_well_before_60s(
    tmp_path: Path, prefix: str
) -> None:
    assert RedisJobsSettings().visibility_timeout <= 15.0
    patterns = compose(tmp_path, prefix)
    (tmp_path / "rainmaker.toml").write_text(composition_text("takeover", patterns))
    recorder = Recorder(tmp_path / "record.jsonl")
    env = {**os.environ, RECORD_ENV: str(recorder.path), "CI": os.environ.get("CI", "")}
    app = build_app(patterns, root=tmp_path, name="takeover")
    workers: list[WorkerProcess] = []
    try:
        async with app.running():
            job_id = await app.services.require(Jobs).enqueue(
                "contract.slow", str(recorder.path), "k", JOB_SECONDS
            )
            doomed = WorkerProcess(tmp_path, env, 1)
            workers.append(doomed)
            await recorder.wait_for(lambda: bool(recorder.lines("k")), "the job to start")
            doomed.signal(signal.SIGKILL)
            await doomed.wait()
            killed_at = time.time()

            survivor = WorkerProcess(tmp_path, env, 1)
            workers.append(survivor)
            await recorder.wait_for(
                lambda: any(x.get("phase") == "done" for x in recorder.lines("k")),
                "the job to finish on the second worker",
                timeout=TAKEOVER_BOUND + JOB_SECONDS + 30,
            )
            lines = recorder.lines("k")
            assert {x["job_id"] for x in lines} == {job_id}
            (taken,) = [x for x in lines if x["phase"] == "start" and x["pid"] == survivor.pid]
            waited = taken["at"] - killed_at
            assert waited < TAKEOVER_BOUND, f"took {waited:.1f}s to take over the job"
            survivor.signal(signal.SIGTERM)
            assert await survivor.wait() == 0, survivor.output()
    finally:
        for worker in workers:
            worker.kill()
