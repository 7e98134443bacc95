"""Tracing: a request span with child database spans, trace ids in log lines, off by default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from rainmaker.kernel.application import Application
from rainmaker.patterns.observability.module import ObservabilityModule
from rainmaker.testing.harness import http_client
from tests.patterns.observability.conftest import composition, make_app


def observability(app: Application) -> ObservabilityModule:
    module = app.instances["obs"].module
    assert isinstance(module, ObservabilityModule)
    return module


def record_spans(app: Application) -> InMemorySpanExporter:
    tracing = observability(app).tracing
    assert tracing is not None
    exporter = InMemorySpanExporter()
    tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def log_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_request_span_has_child_database_spans_and_logs_carry_the_trace_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(tmp_path, composition(tmp_path, tracing={"exporter": "console"}))
    app.configure_logging()  # JSON to the captured stderr
    async with app.running():
        spans = record_spans(app)
        async with http_client(app) as client:
            response = await client.get("/items/41", headers={"x-request-id": "req-41"})
        assert response.status_code == 200
    finished: list[ReadableSpan] = list(spans.get_finished_spans())
    servers = [s for s in finished if s.kind == SpanKind.SERVER]
    assert len(servers) == 1
    request = servers[0]
    assert request.name == "GET /items/{item_id}"
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/items/{item_id}"
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["rainmaker.request_id"] == "req-41"
    assert request.context is not None
    trace_id = request.context.trace_id
    queries = [s for s in finished if s.name.startswith("db ")]
    assert queries, "no database span"
    for query in queries:
        assert query.parent is not None and query.parent.span_id == request.context.span_id
        assert query.context is not None and query.context.trace_id == trace_id
        assert query.attributes is not None and query.attributes["db.system"] == "sqlite"
    assert any("SELECT" in str((q.attributes or {}).get("db.query.text")) for q in queries)
    # No parameter value is recorded: 41 was bound, not inlined.
    assert all("41" not in str((q.attributes or {}).get("db.query.text")) for q in queries)

    lines = log_lines(capsys.readouterr().err)
    hex_id = format(trace_id, "032x")
    of_request = [line for line in lines if line.get("request_id") == "req-41"]
    assert {line["event"] for line in of_request} >= {"items.loaded", "http.request"}
    assert all(line.get("trace_id") == hex_id for line in of_request)


async def test_incoming_traceparent_is_continued(tmp_path: Path) -> None:
    app = make_app(tmp_path, composition(tmp_path, tracing={"exporter": "console"}))
    async with app.running():
        spans = record_spans(app)
        parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        async with http_client(app) as client:
            await client.get("/items/5", headers={"traceparent": parent})
    (request,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert request.context is not None
    assert format(request.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert request.parent is not None and format(request.parent.span_id, "016x") == (
        "b7ad6b7169203331"
    )


async def test_request_without_traceparent_starts_a_trace(tmp_path: Path) -> None:
    # Whatever span is current where the app is called (here: the test's own), a request
    # whose caller sent no traceparent is a root: its parent is what the caller said.
    app = make_app(tmp_path, composition(tmp_path, tracing={"exporter": "console"}))
    async with app.running():
        spans = record_spans(app)
        tracing = observability(app).tracing
        assert tracing is not None
        with tracing.tracer.start_as_current_span("outer"):
            async with http_client(app) as client:
                assert (await client.get("/items/6")).status_code == 200
    (request,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    (outer,) = [s for s in spans.get_finished_spans() if s.name == "outer"]
    assert request.parent is None
    assert request.context is not None and outer.context is not None
    assert request.context.trace_id != outer.context.trace_id


async def test_failed_request_span_is_an_error(tmp_path: Path) -> None:
    app = make_app(tmp_path, composition(tmp_path, tracing={"exporter": "console"}))
    async with app.running():
        spans = record_spans(app)
        async with http_client(app) as client:
            assert (await client.get("/items/404")).status_code == 404
            assert (await client.get("/nowhere")).status_code == 404
    servers = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    names = sorted(s.name for s in servers)
    assert names == ["GET", "GET /items/{item_id}"]  # unmatched routes keep the method only


async def test_tracing_is_off_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(tmp_path, composition(tmp_path))
    app.configure_logging()
    async with app.running():
        module = observability(app)
        assert module.tracing is None and module.tracer is None
        async with http_client(app) as client:
            assert (await client.get("/items/3")).status_code == 200
    lines = log_lines(capsys.readouterr().err)
    assert any(line.get("event") == "items.loaded" for line in lines)
    assert not any("trace_id" in line for line in lines)


async def test_stop_detaches_database_listeners(tmp_path: Path) -> None:
    from sqlalchemy import event

    from rainmaker.capabilities.database import Database

    app = make_app(tmp_path, composition(tmp_path, tracing={"exporter": "console"}))
    await app.start()
    database = app.services.require(Database)
    engine = database.engine.sync_engine  # type: ignore[attr-defined]
    module = observability(app)
    tracing = module.tracing
    assert tracing is not None
    # Observability starts before the database here: its engine is instrumented once
    # the app has started, before the first request or pattern span.
    assert module.settle() is True
    listener = tracing._engines[0][1]
    assert event.contains(engine, "before_cursor_execute", listener.before)
    await module.stop()
    assert not event.contains(engine, "before_cursor_execute", listener.before)
    await app.stop()


def test_otlp_needs_an_endpoint() -> None:
    from pydantic import ValidationError

    from rainmaker.patterns.observability.settings import TracingSettings

    with pytest.raises(ValidationError, match="needs endpoint"):
        TracingSettings(exporter="otlp-http")
    assert structlog is not None


async def test_a_collector_that_never_answers_delays_a_stop_by_the_export_timeout_only(
    tmp_path: Path,
) -> None:
    """Found by the tracing bench: with the exporter's default (10 s a try) an unreachable
    collector held the last flush, and so the app's stop, for 11.8 s."""
    import socket
    import time

    silent = socket.create_server(("127.0.0.1", 0))  # accepts into its backlog, never answers
    try:
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}/v1/traces"
        tracing = {"exporter": "otlp-http", "endpoint": endpoint, "export_timeout": 0.5}
        app = make_app(tmp_path, composition(tmp_path, tracing=tracing))
        async with app.running():
            async with http_client(app) as client:
                assert (await client.get("/items/1")).status_code == 200
            began = time.monotonic()
        stopped_after = time.monotonic() - began
    finally:
        silent.close()
    assert stopped_after < 8.0  # a bound on the hang (the default took 11.8 s), not a speed


def test_the_export_timeout_reaches_the_exporter() -> None:
    from rainmaker.patterns.observability.settings import TracingSettings
    from rainmaker.patterns.observability.tracing import build_exporter

    settings = TracingSettings(
        exporter="otlp-http", endpoint="http://127.0.0.1:4318/v1/traces", export_timeout=1.5
    )
    exporter = build_exporter(settings)
    assert exporter is not None
    # Private either way: the exporter keeps it itself before 1.45, in its HTTP client since.
    client = getattr(exporter, "_client", exporter)
    assert client._timeout == 1.5


def test_the_app_resource_is_hashed_once_and_equals_the_sdk_one() -> None:
    from opentelemetry.sdk.resources import Resource

    from rainmaker.patterns.observability.tracing import HashedOnceResource

    created = Resource.create({"service.name": "acme", "deployment.environment": "test"})
    resource = HashedOnceResource.of(created)
    assert resource == created and hash(resource) == hash(created)
    assert dict(resource.attributes) == dict(created.attributes)
    assert {resource: 1}[created] == 1  # the encoder groups spans by it in a dict
