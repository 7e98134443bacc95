"""Pattern spans: cache, storage, jobs and outgoing HTTP, beside the request and its SQL.

The ``chores`` test pattern serves ``POST /chores/{chore_id}``: it writes and reads the
cache, stores and reads an object, enqueues a job and calls a real HTTP server the test
runs on 127.0.0.1. With tracing on, each is a span in the request's trace; the job's run
continues that trace when the worker picks it up. With tracing off, nothing is wrapped.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from rainmaker import Module, Pattern, Settings
from rainmaker.capabilities.cache import Cache
from rainmaker.capabilities.jobs import JobRegistry, Jobs, RetryPolicy
from rainmaker.capabilities.storage import Storage
from rainmaker.capabilities.tracing import Tracing
from rainmaker.kernel.application import Application
from rainmaker.patterns.cache.memory import MemoryCache
from rainmaker.patterns.cache.traced import TracedCache
from rainmaker.patterns.jobs.module import JobsModule
from rainmaker.patterns.observability.outgoing import outgoing_http
from rainmaker.patterns.storage.local import LocalObjectStore
from rainmaker.patterns.storage.traced import TracedObjectStore
from rainmaker.testing.harness import build_app, http_client
from tests.patterns.observability.test_tracing import record_spans

SECRET_VALUE = "cached-value-never-in-a-span"

chores = JobRegistry()
ran: list[int] = []


@chores.job("chores.sweep", retry=RetryPolicy(max_attempts=1))
async def sweep(chore_id: int) -> None:
    ran.append(chore_id)
    if chore_id < 0:
        raise RuntimeError("asked to fail")


class ChoresSettings(Settings):
    upstream: str = ""


class ChoresModule(Module[ChoresSettings]):
    async def start(self) -> None:
        self.ctx.services.require(Jobs).register(chores)

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.post("/chores/{chore_id}")
        async def chore(chore_id: int) -> dict[str, Any]:
            cache = self.ctx.cache
            assert cache is not None
            await cache.set(f"chore:{chore_id}", SECRET_VALUE)
            assert await cache.get(f"chore:{chore_id}") == SECRET_VALUE
            storage = self.ctx.services.require(Storage)
            await storage.put(f"chores/{chore_id}.txt", b"swept", content_type="text/plain")
            async with await storage.get(f"chores/{chore_id}.txt") as reader:
                body = await reader.read()
            job_id = await self.ctx.services.require(Jobs).enqueue("chores.sweep", chore_id)
            async with httpx.AsyncClient() as client:
                upstream = await client.get(self.settings.upstream)
            return {"job_id": job_id, "body": body.decode(), "upstream": upstream.status_code}

        return router


chores_pattern = Pattern(
    id="chores",
    version="1.0.0",
    name="Chores",
    settings=ChoresSettings,
    factory=ChoresModule,
    requires=[Cache, Storage, Jobs],
    examples=[{}],
)


class Upstream(BaseHTTPRequestHandler):
    """Answers 200 and remembers the ``traceparent`` header of each request."""

    seen: list[str | None] = []

    def do_GET(self) -> None:
        Upstream.seen.append(self.headers.get("traceparent"))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Upstream.seen.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ping"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def make_app(root: Path, upstream: str, **observability: Any) -> Application:
    patterns = {
        "web": {"use": "framework-fastapi"},
        "db": {"use": "database-sqlite", "path": str(root / "app.db")},
        "cache": {"use": "cache-memory"},
        "files": {"use": "storage-local", "root": str(root / "files")},
        "jobs": {"use": "jobs-local", "poll_interval": 0.02},
        "chores": {"use": "chores", "upstream": upstream},
        "obs": {"use": "observability", **observability},
    }
    return build_app(patterns, root=root, name="chores", extra_patterns=[chores_pattern])


def jobs_module(app: Application) -> JobsModule[Any]:
    module = app.instances["jobs"].module
    assert isinstance(module, JobsModule)
    return module


async def run_worker_until(app: Application, done: Any) -> None:
    """Run the jobs worker in this process until ``done()`` holds (or 10 s pass)."""
    module = jobs_module(app)
    worker = asyncio.create_task(module.work())
    try:
        async with asyncio.timeout(10):
            while not done():
                await asyncio.sleep(0.02)
    finally:
        module.stop_working()
        await worker


def finished_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


def named(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return (
        span.parent is not None
        and parent.context is not None
        and span.parent.span_id == parent.context.span_id
    )


async def test_pattern_operations_are_spans_in_the_request_trace(
    tmp_path: Path, upstream: str
) -> None:
    ran.clear()
    app = make_app(tmp_path, upstream, tracing={"exporter": "console"})
    async with app.running():
        # Observability provides Tracing, which the patterns require: it starts first.
        order = app.order
        assert all(order.index("obs") < order.index(name) for name in ("cache", "files", "jobs"))
        assert isinstance(app.services.require(Cache), TracedCache)
        assert isinstance(app.services.require(Storage), TracedObjectStore)
        spans = record_spans(app)
        async with http_client(app) as client:
            response = await client.post("/chores/7")
        assert response.status_code == 200, response.text
        assert response.json()["body"] == "swept"
        assert response.json()["upstream"] == 200
        await run_worker_until(app, lambda: named(finished_spans(spans), "jobs.run chores.sweep"))
    assert ran == [7]

    finished = list(spans.get_finished_spans())
    (request,) = [s for s in finished if s.kind == SpanKind.SERVER]
    assert request.name == "POST /chores/{chore_id}"
    assert request.context is not None
    trace_id = request.context.trace_id

    # Cache: one span per call, the namespace but never the key or the value.
    (cache_set,) = named(finished, "cache.set")
    (cache_get,) = named(finished, "cache.get")
    for span in (cache_set, cache_get):
        assert child_of(span, request)
        assert span.kind == SpanKind.CLIENT
        assert attributes(span)["cache.namespace"] == "chores"
        assert attributes(span)["cache.backend"] == "memory"
        assert attributes(span)["rainmaker.instance"] == "cache"
    assert attributes(cache_get)["cache.hit"] is True
    for span in finished:
        for value in attributes(span).values():
            assert SECRET_VALUE not in str(value)
            assert "chore:7" not in str(value)

    # Storage: key, size and content type.
    (put,) = named(finished, "storage.put")
    (get,) = named(finished, "storage.get")
    for span in (put, get):
        assert child_of(span, request)
        assert attributes(span)["storage.key"] == "chores/7.txt"
        assert attributes(span)["storage.size"] == 5
        assert attributes(span)["storage.content_type"] == "text/plain"
        assert attributes(span)["storage.backend"] == "local"
        assert attributes(span)["rainmaker.instance"] == "files"

    # Jobs: the enqueue is a producer span of the request; the run, in the worker,
    # continues the trace under it, with the attempt and outcome.
    (enqueue,) = named(finished, "jobs.enqueue chores.sweep")
    assert child_of(enqueue, request)
    assert enqueue.kind == SpanKind.PRODUCER
    assert attributes(enqueue)["job.name"] == "chores.sweep"
    assert attributes(enqueue)["job.queue"] == "default"
    assert attributes(enqueue)["job.id"] == response.json()["job_id"]
    (run,) = named(finished, "jobs.run chores.sweep")
    assert run.kind == SpanKind.CONSUMER
    assert run.context is not None and run.context.trace_id == trace_id
    assert child_of(run, enqueue)
    assert attributes(run)["job.attempt"] == 1
    assert attributes(run)["job.id"] == response.json()["job_id"]
    assert attributes(run)["job.outcome"] == "succeeded"
    assert run.status.status_code != StatusCode.ERROR
    # The worker's statements (ack, bookkeeping) are children of the run span.
    assert any(child_of(s, run) for s in finished if s.name.startswith("db "))

    # Outgoing HTTP: a client span under the request; the server got its traceparent.
    clients = [s for s in finished if s.kind == SpanKind.CLIENT and s.name == "GET"]
    assert len(clients) == 1
    (outgoing,) = clients
    assert child_of(outgoing, request)
    assert outgoing.context is not None
    (traceparent,) = Upstream.seen
    assert traceparent is not None
    assert traceparent.startswith(f"00-{trace_id:032x}-{outgoing.context.span_id:016x}-")


async def test_failed_job_run_span_is_an_error(tmp_path: Path, upstream: str) -> None:
    ran.clear()
    app = make_app(tmp_path, upstream, tracing={"exporter": "console"})
    async with app.running():
        spans = record_spans(app)
        await app.services.require(Jobs).enqueue("chores.sweep", -1)
        await run_worker_until(app, lambda: named(finished_spans(spans), "jobs.run chores.sweep"))
    (run,) = named(list(spans.get_finished_spans()), "jobs.run chores.sweep")
    assert run.status.status_code == StatusCode.ERROR
    assert attributes(run)["job.outcome"] == "dead_lettered"
    assert any(event.name == "exception" for event in run.events)
    worker = jobs_module(app).worker
    assert worker is not None and worker.counters.dead_lettered == 1


async def test_without_tracing_nothing_is_wrapped(tmp_path: Path, upstream: str) -> None:
    app = make_app(tmp_path, upstream)
    async with app.running():
        tracer = app.services.require(Tracing)
        assert tracer.enabled is False
        assert type(app.services.require(Cache)) is MemoryCache
        assert type(app.services.require(Storage)) is LocalObjectStore
        service = jobs_module(app).service
        assert service is not None and service.tracer is None
        assert outgoing_http.users == []
        async with http_client(app) as client:
            assert (await client.post("/chores/1")).status_code == 200
    assert Upstream.seen == [None]  # no traceparent sent


async def test_stop_removes_the_httpx_instrumentation(tmp_path: Path, upstream: str) -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = make_app(tmp_path / "a", upstream, tracing={"exporter": "console"})
    second = make_app(tmp_path / "b", upstream, tracing={"exporter": "console"})
    await first.start()
    await second.start()
    try:
        assert HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
        await first.stop()
        # Handed on to the app still running, whose provider is alive.
        assert HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
        spans = record_spans(second)
        async with httpx.AsyncClient() as client:
            await client.get(upstream)
        assert [s.name for s in spans.get_finished_spans()] == ["GET"]
    finally:
        await first.stop()
        await second.stop()
    assert not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    assert outgoing_http.users == []
