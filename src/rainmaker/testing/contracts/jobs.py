"""The ``Jobs`` contract: behaviour every provider of :data:`~rainmaker.capabilities.Jobs`
must show. ``jobs-local``, ``jobs-redis`` and ``jobs-rabbitmq`` all run it; so can yours.

Subclass :class:`JobsContract` and define one fixture, ``jobs_under_test``, returning a
:class:`JobsUnderTest`: the pattern id and its settings for a namespace no other test
uses (a key prefix, an exchange…); clean that namespace up after the test::

    class TestMyJobs(JobsContract):
        @pytest.fixture
        def jobs_under_test(self) -> Iterator[JobsUnderTest]:
            name = f"contract-{uuid.uuid4().hex[:8]}"
            yield JobsUnderTest(use="jobs-mine", settings={"namespace": name})
            drop_namespace(name)

Each test composes an app of a SQLite database (``db``) and the provider (``jobs``) in its
own folder, with this module's registries. Worker processes are real ``rainmaker worker``
processes (started as ``python -m rainmaker worker``) on the same composition. Jobs
record what they do as JSON lines in a file of the test folder, so the test observes
every process alike. Waits poll for a condition within generous bounds; nothing asserts
how long something took.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from rainmaker.capabilities.jobs import JobQueue, JobRegistry, RetryPolicy, current_job
from rainmaker.kernel.application import Application
from rainmaker.kernel.errors import InvalidInputError, NotFoundError
from rainmaker.testing.harness import build_app, composition_text

__all__ = ["JobsContract", "JobsUnderTest", "contract_jobs", "contract_periodic"]

RECORD_ENV = "RAINMAKER_CONTRACT_RECORD"
WAIT = 45.0

contract_jobs = JobRegistry()
contract_periodic = JobRegistry()


def _record(path: str, tag: str, **extra: Any) -> None:
    job = current_job()
    line = {
        "tag": tag,
        "job_id": job.job_id,
        "attempt": job.attempt,
        "pid": os.getpid(),
        "at": time.time(),
        **extra,
    }
    # One write of one line with O_APPEND: lines from several processes never interleave.
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


@contract_jobs.job("contract.record")
async def record(path: str, tag: str, *, note: str = "") -> None:
    """Record that it ran."""
    _record(path, tag, note=note)


@contract_jobs.job(
    "contract.flaky", retry=RetryPolicy(max_attempts=3, backoff=0.05, max_backoff=0.2)
)
async def flaky(path: str, tag: str, failures: int) -> None:
    """Fail the first ``failures`` attempts, then succeed."""
    attempt = current_job().attempt
    if attempt <= failures:
        _record(path, tag, outcome="failed")
        raise RuntimeError(f"failing attempt {attempt} on purpose")
    _record(path, tag, outcome="ok")


@contract_jobs.job(
    "contract.fails_until", retry=RetryPolicy(max_attempts=2, backoff=0.05, max_backoff=0.1)
)
async def fails_until(path: str, tag: str, switch: str) -> None:
    """Fail while the file ``switch`` does not exist."""
    if not os.path.exists(switch):
        _record(path, tag, outcome="failed")
        raise RuntimeError("the switch is off")
    _record(path, tag, outcome="ok")


@contract_jobs.job("contract.slow", timeout=60)
async def slow(path: str, tag: str, seconds: float) -> None:
    """Record its start, take ``seconds``, record its end."""
    _record(path, tag, phase="start")
    await asyncio.sleep(seconds)
    _record(path, tag, phase="done")


@contract_periodic.periodic("contract.tick", cron="* * * * * *")
async def tick() -> None:
    """Every second: record the tick (its idempotency key names it)."""
    _record(os.environ[RECORD_ENV], "tick", key=current_job().idempotency_key)


@dataclass
class JobsUnderTest:
    """The provider to test: its pattern id and settings (its own namespace included).

    ``database`` is the settings of the app's ``db`` instance; ``None`` is a SQLite file in
    the test folder (give a PostgreSQL database to test the ``SKIP LOCKED`` claim path).
    """

    use: str
    settings: dict[str, Any] = field(default_factory=dict)
    database: dict[str, Any] | None = None


class Recorder:
    """Reads the lines jobs appended to the record file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self, tag: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        found = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [line for line in found if tag is None or line["tag"] == tag]

    async def wait_for(
        self, condition: Callable[[], bool], what: str, *, timeout: float = WAIT
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; recorded: {self.lines()}")
            await asyncio.sleep(0.05)


class WorkerProcess:
    """A ``rainmaker worker`` process on the test's composition."""

    def __init__(self, root: Path, env: dict[str, str], concurrency: int) -> None:
        self.log = root / f"worker-{time.monotonic_ns()}.log"
        self._out = open(self.log, "wb")  # closed in wait() or kill()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rainmaker",
                "worker",
                "--app",
                str(root),
                "--concurrency",
                str(concurrency),
            ],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    async def wait(self, timeout: float = WAIT) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"worker {self.pid} did not exit; log: {self.output()}")
            await asyncio.sleep(0.05)
        self._out.close()
        return int(self.process.returncode)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._out.close()


@pytest.mark.asyncio
class JobsContract:
    """The contract tests; subclass and provide a ``jobs_under_test`` fixture."""

    # -- composition -----------------------------------------------------------------------

    @pytest.fixture
    def recorder(self, tmp_path: Path) -> Recorder:
        return Recorder(tmp_path / "record.jsonl")

    @pytest.fixture
    def compose(
        self, jobs_under_test: JobsUnderTest, tmp_path: Path
    ) -> Callable[..., dict[str, dict[str, Any]]]:
        def patterns(*, periodic: bool = False) -> dict[str, dict[str, Any]]:
            registries = ["rainmaker.testing.contracts.jobs:contract_jobs"]
            if periodic:
                registries.append("rainmaker.testing.contracts.jobs:contract_periodic")
            settings: dict[str, Any] = {
                "visibility_timeout": 2.0,
                "drain_timeout": 20.0,
                **jobs_under_test.settings,
                "registries": registries,
            }
            if jobs_under_test.use == "jobs-local":
                settings.setdefault("poll_interval", 0.05)
            database = jobs_under_test.database or {
                "use": "database-sqlite",
                "path": str(tmp_path / "app.db"),
            }
            return {
                "db": dict(database),
                "jobs": {"use": jobs_under_test.use, **settings},
            }

        return patterns

    @pytest.fixture
    async def app(
        self, compose: Callable[..., dict[str, dict[str, Any]]], tmp_path: Path
    ) -> AsyncIterator[Application]:
        application = build_app(compose(), root=tmp_path, name="contract")
        async with application.running():
            yield application

    @pytest.fixture
    def jobs(self, app: Application) -> JobQueue:
        from rainmaker.capabilities.jobs import Jobs

        return app.services.require(Jobs)

    @pytest.fixture
    def workers(
        self,
        compose: Callable[..., dict[str, dict[str, Any]]],
        tmp_path: Path,
        recorder: Recorder,
    ) -> Iterator[Callable[..., WorkerProcess]]:
        started: list[WorkerProcess] = []

        def start(*, concurrency: int = 4, periodic: bool = False) -> WorkerProcess:
            folder = tmp_path
            (folder / "rainmaker.toml").write_text(
                composition_text("contract", compose(periodic=periodic))
            )
            env = {**os.environ, RECORD_ENV: str(recorder.path), "CI": os.environ.get("CI", "")}
            worker = WorkerProcess(folder, env, concurrency)
            started.append(worker)
            return worker

        yield start
        for worker in started:
            worker.kill()

    @contextlib.asynccontextmanager
    async def in_process_worker(self, app: Application) -> AsyncIterator[Any]:
        """The app's own worker, running in this process while the block runs."""
        from rainmaker.patterns.jobs.module import JobsModule

        module = app.instances["jobs"].module
        assert isinstance(module, JobsModule)
        task = asyncio.create_task(module.work(concurrency=4))
        try:
            yield module
        finally:
            module.stop_working()
            await asyncio.wait_for(task, WAIT)

    # -- enqueue and run -------------------------------------------------------------------

    async def test_enqueue_and_run(
        self, app: Application, jobs: JobQueue, recorder: Recorder
    ) -> None:
        job_id = await jobs.enqueue("contract.record", str(recorder.path), "a", note="hi")
        async with self.in_process_worker(app):
            await recorder.wait_for(lambda: bool(recorder.lines("a")), "the job to run")
        (line,) = recorder.lines("a")
        assert line["job_id"] == job_id
        assert line["note"] == "hi"
        assert line["attempt"] == 1

    async def test_delay_postpones_the_run(
        self, app: Application, jobs: JobQueue, recorder: Recorder
    ) -> None:
        async with self.in_process_worker(app):
            enqueued = time.time()
            await jobs.enqueue("contract.record", str(recorder.path), "late", delay=1.0)
            await jobs.enqueue("contract.record", str(recorder.path), "now")
            await recorder.wait_for(lambda: bool(recorder.lines("late")), "the delayed job")
        (late,) = recorder.lines("late")
        (now,) = recorder.lines("now")
        assert now["at"] < late["at"]
        assert late["at"] >= enqueued + 0.9  # never before it is due

    async def test_retry_with_backoff_then_success(
        self, app: Application, jobs: JobQueue, recorder: Recorder
    ) -> None:
        await jobs.enqueue("contract.flaky", str(recorder.path), "f", 2)
        async with self.in_process_worker(app):
            await recorder.wait_for(
                lambda: any(line["outcome"] == "ok" for line in recorder.lines("f")), "success"
            )
        lines = recorder.lines("f")
        assert [(line["attempt"], line["outcome"]) for line in lines] == [
            (1, "failed"),
            (2, "failed"),
            (3, "ok"),
        ]
        assert len({line["job_id"] for line in lines}) == 1
        assert await jobs.failed() == []

    async def test_dead_letter_after_exhaustion_and_retry(
        self, app: Application, jobs: JobQueue, recorder: Recorder, tmp_path: Path
    ) -> None:
        switch = tmp_path / "switch"
        job_id = await jobs.enqueue("contract.fails_until", str(recorder.path), "d", str(switch))
        async with self.in_process_worker(app):
            await recorder.wait_for(lambda: len(recorder.lines("d")) >= 2, "two attempts")
            failed: list[Any] = []

            async def dead_lettered() -> bool:
                failed[:] = await jobs.failed()
                return bool(failed)

            deadline = time.monotonic() + WAIT
            while not await dead_lettered():
                assert time.monotonic() < deadline, "the job never reached the dead letters"
                await asyncio.sleep(0.05)
            (dead,) = failed
            assert dead.name == "contract.fails_until"
            assert dead.attempts == 2
            assert dead.failed_at.tzinfo is UTC  # aware on every store (SQLite included)
            assert "the switch is off" in dead.error
            assert list(dead.args) == [str(recorder.path), "d", str(switch)]
            switch.touch()
            again = await jobs.retry(dead.id)
            assert again != job_id
            await recorder.wait_for(
                lambda: any(line["outcome"] == "ok" for line in recorder.lines("d")),
                "the retried job to succeed",
            )
        assert await jobs.failed() == []
        with pytest.raises(NotFoundError):
            await jobs.retry(dead.id)

    async def test_idempotency_key_enqueues_once(
        self, app: Application, jobs: JobQueue, recorder: Recorder
    ) -> None:
        first = await jobs.enqueue("contract.record", str(recorder.path), "i", idempotency_key="k1")
        second = await jobs.enqueue(
            "contract.record", str(recorder.path), "i", idempotency_key="k1"
        )
        assert first == second
        await jobs.enqueue("contract.record", str(recorder.path), "after")
        async with self.in_process_worker(app):
            await recorder.wait_for(lambda: bool(recorder.lines("after")), "the later job")
            await recorder.wait_for(lambda: bool(recorder.lines("i")), "the keyed job")
        assert len(recorder.lines("i")) == 1

    # -- transactional enqueue -------------------------------------------------------------

    async def test_commit_enqueues_and_rollback_does_not(
        self, app: Application, jobs: JobQueue, recorder: Recorder
    ) -> None:
        from rainmaker.capabilities.database import Database

        database = app.services.require(Database)
        async with database.transaction():
            await jobs.enqueue("contract.record", str(recorder.path), "committed")
        with pytest.raises(RuntimeError):
            async with database.transaction():
                await jobs.enqueue("contract.record", str(recorder.path), "rolled-back")
                raise RuntimeError("roll back")
        async with self.in_process_worker(app):
            await recorder.wait_for(lambda: bool(recorder.lines("committed")), "the committed job")
            # A job enqueued after both transactions has run: the rolled-back one would have
            # been handed on before it.
            await jobs.enqueue("contract.record", str(recorder.path), "marker")
            await recorder.wait_for(lambda: bool(recorder.lines("marker")), "the marker job")
            await asyncio.sleep(0.3)
        assert recorder.lines("rolled-back") == []
        assert len(recorder.lines("committed")) == 1

    # -- bad input -------------------------------------------------------------------------

    async def test_unknown_job_is_refused_at_enqueue(self, jobs: JobQueue) -> None:
        with pytest.raises(InvalidInputError) as caught:
            await jobs.enqueue("contract.recrod", "x", "y")
        assert "unknown job 'contract.recrod'" in str(caught.value)
        assert "contract.record" in str(caught.value)  # the suggestion

    async def test_unserialisable_arguments_are_refused_at_enqueue(
        self, jobs: JobQueue, recorder: Recorder
    ) -> None:
        with pytest.raises(InvalidInputError) as caught:
            await jobs.enqueue("contract.record", str(recorder.path), "t", note=object())
        assert "note=" in str(caught.value)
        with pytest.raises(InvalidInputError):
            await jobs.enqueue("contract.record", str(recorder.path), float("nan"))
        with pytest.raises(InvalidInputError):
            await jobs.enqueue("contract.record", str(recorder.path), "t", delay=-1)

    async def test_health_and_stats(self, app: Application, jobs: JobQueue) -> None:
        report = await app.health()
        health = {item.instance: item for item in report.instances}["jobs"]
        # degraded is a truthful answer too: jobs-redis says so for a Redis that persists
        # nothing (as test servers often do), naming the fix in its details
        assert health.status.value in ("up", "degraded"), health.details
        assert "default" in health.details["queues"]
        (default,) = [s for s in await jobs.stats() if s.queue == "default"]
        assert default.waiting == 0

    # -- worker processes ------------------------------------------------------------------

    async def test_two_worker_processes_share_a_queue_and_a_schedule(
        self,
        app: Application,
        jobs: JobQueue,
        recorder: Recorder,
        workers: Callable[..., WorkerProcess],
    ) -> None:
        ids = {
            await jobs.enqueue("contract.slow", str(recorder.path), f"s{i}", 0.05)
            for i in range(30)
        }
        first, second = workers(periodic=True), workers(periodic=True)
        await recorder.wait_for(
            lambda: len([x for x in recorder.lines() if x.get("phase") == "done"]) >= 30,
            "30 jobs to finish",
        )
        await recorder.wait_for(lambda: len(recorder.lines("tick")) >= 3, "three ticks")
        for worker in (first, second):
            worker.signal(signal.SIGTERM)
        for worker in (first, second):
            assert await worker.wait() == 0, worker.output()
        done = [x for x in recorder.lines() if x.get("phase") == "done"]
        assert sorted(x["job_id"] for x in done) == sorted(ids)  # each job once
        ticks = [x["key"] for x in recorder.lines("tick")]
        assert len(ticks) == len(set(ticks)), f"a tick ran twice: {ticks}"
        assert {x["pid"] for x in recorder.lines()} <= {first.pid, second.pid}

    async def test_sigkill_mid_job_is_run_by_another_worker(
        self,
        app: Application,
        jobs: JobQueue,
        recorder: Recorder,
        workers: Callable[..., WorkerProcess],
    ) -> None:
        job_id = await jobs.enqueue("contract.slow", str(recorder.path), "k", 1.0)
        doomed = workers(concurrency=1)
        await recorder.wait_for(lambda: bool(recorder.lines("k")), "the job to start")
        doomed.signal(signal.SIGKILL)
        await doomed.wait()
        survivor = workers(concurrency=1)
        await recorder.wait_for(
            lambda: any(x.get("phase") == "done" for x in recorder.lines("k")),
            "the job to finish on the second worker",
        )
        survivor.signal(signal.SIGTERM)
        assert await survivor.wait() == 0, survivor.output()
        lines = recorder.lines("k")
        assert {x["job_id"] for x in lines} == {job_id}
        assert lines[0]["pid"] == doomed.pid
        (done,) = [x for x in lines if x["phase"] == "done"]
        assert done["pid"] == survivor.pid

    async def test_sigterm_drains_in_flight_and_returns_the_rest(
        self,
        app: Application,
        jobs: JobQueue,
        recorder: Recorder,
        workers: Callable[..., WorkerProcess],
    ) -> None:
        ids = [
            await jobs.enqueue("contract.slow", str(recorder.path), f"t{i}", 1.0) for i in range(3)
        ]
        worker = workers(concurrency=1)
        await recorder.wait_for(lambda: bool(recorder.lines()), "the first job to start")
        worker.signal(signal.SIGTERM)
        assert await worker.wait() == 0, worker.output()
        lines = recorder.lines()
        started = {x["job_id"] for x in lines if x["phase"] == "start"}
        done = {x["job_id"] for x in lines if x["phase"] == "done"}
        assert started and started == done  # what it took, it finished
        async with self.in_process_worker(app):
            await recorder.wait_for(
                lambda: {x["job_id"] for x in recorder.lines() if x["phase"] == "done"} == set(ids),
                "the returned jobs to run",
            )
        done_lines = [x for x in recorder.lines() if x["phase"] == "done"]
        assert len(done_lines) == 3
