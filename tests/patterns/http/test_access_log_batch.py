"""Access-log lines are written in batches, in order, and none is lost when the server stops."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import structlog

from rainmaker.kernel.logging import configure_logging
from rainmaker.kernel.logging_batch import BatchedLines, drain_all
from tests.patterns.http.conftest import MakeApp
from tests.patterns.http.test_cli import Server


class Sink:
    """A binary stream that records each write call (where the batches go)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.writes.append(data)
        return len(data)

    def flush(self) -> None:
        pass


def test_lines_written_outside_a_loop_go_out_at_once() -> None:
    sink = Sink()
    batch = BatchedLines(sink)
    batch.write(b"one\n")
    batch.write(b"two\n")
    assert sink.writes == [b"one\n", b"two\n"]


def test_lines_written_in_a_loop_go_out_together_after_the_request() -> None:
    sink = Sink()
    batch = BatchedLines(sink)

    async def requests() -> None:
        for number in range(50):
            batch.write(b"line %d\n" % number)
            batch.flush()  # what BytesLogger does after every line: no write
        assert sink.writes == []

    asyncio.run(requests())
    for _ in range(200):  # the writer thread writes them a few milliseconds later
        if sink.writes:
            break
        time.sleep(0.01)
    assert sink.writes == [b"".join(b"line %d\n" % number for number in range(50))]


def test_a_loop_closed_before_its_timer_strands_no_line() -> None:
    sink = Sink()
    batch = BatchedLines(sink)

    async def write(line: bytes) -> None:
        batch.write(line)

    asyncio.run(write(b"first\n"))  # the loop closes before the batch is written
    asyncio.run(write(b"second\n"))
    for _ in range(200):
        if len(b"".join(sink.writes)) == len(b"first\nsecond\n"):
            break
        time.sleep(0.01)
    assert b"".join(sink.writes) == b"first\nsecond\n"


def test_a_stdlib_record_comes_after_the_structlog_lines_waiting() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, write_through=True)
    real_stderr, sys.stderr = sys.stderr, stream
    try:
        configure_logging(fmt="json")
    finally:
        sys.stderr = real_stderr

    async def log() -> None:
        structlog.get_logger().info("first")
        structlog.get_logger().info("second")
        # Usually both still wait for the batch here; but the writer thread writes 5 ms
        # after the first line, which a loaded machine can spend before this point: the
        # order below must hold either way.
        # A logger no earlier test configured (uvicorn's own may not propagate any more).
        logging.getLogger("tests.batch_order").warning("third")

    asyncio.run(log())
    events = [json.loads(line)["event"] for line in raw.getvalue().splitlines()]
    assert events == ["first", "second", "third"]


@pytest.mark.slow
def test_no_access_line_is_lost_when_the_server_stops(make_app: MakeApp) -> None:
    server = Server(make_app(http="[patterns.http.shutdown]\ndelay = 0\ntimeout = 10"))
    try:
        server.wait_ready()
        count = 300
        ids = [f"batch-{number}" for number in range(count)]

        def get(request_id: str) -> int:
            response = httpx.get(f"{server.url}/api/items/1", timeout=10,
                                 headers={"X-Request-ID": request_id})
            return response.status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(get, ids)) == {200}
        # At once after the last response: its line may still be waiting in the batch.
        server.process.send_signal(signal.SIGTERM)
        _out, err = server.process.communicate(timeout=30)
    finally:
        server.stop()
    assert server.process.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [line["request_id"] for line in lines if line.get("event") == "http.request"]
    assert sorted(set(access) & set(ids)) == sorted(ids)
    events = [line["event"] for line in lines]
    last_access = max(i for i, line in enumerate(lines) if line.get("event") == "http.request")
    assert events.index("app.stopped") > last_access  # and in order with the others


def test_emit_writes_the_line_structlog_would(monkeypatch: pytest.MonkeyPatch) -> None:
    from rainmaker.kernel import logging as kernel_logging

    def fixed_time(_logger: object, _method: str, event: dict[str, object]) -> object:
        event["timestamp"] = "2026-12-01T00:00:00.000000Z"
        return event

    monkeypatch.setattr(kernel_logging, "_add_timestamp", fixed_time)
    raw = io.BytesIO()
    real_stderr, sys.stderr = sys.stderr, io.TextIOWrapper(raw, write_through=True)
    try:
        configure_logging(fmt="json", secrets=["emit-secret-value-1"])
    finally:
        sys.stderr = real_stderr
    log = kernel_logging.ResolvedLogger(
        structlog.get_logger().bind(app="a", instance="http", pattern="p")
    )

    def fields() -> dict[str, object]:
        return {"method": "GET", "path": "/x/emit-secret-value-1", "status": 404,
                "duration_ms": 1.25, "client": None}

    with structlog.contextvars.bound_contextvars(request_id="r-1", role="web"):
        for level in ("info", "warning", "error"):
            log.emit(level, "http.request", fields())
            getattr(log.get(), level)("http.request", **fields())
        log.emit("debug", "http.request", fields())  # below the level: nothing
        drain_all()
    fast, usual = raw.getvalue().splitlines()[::2], raw.getvalue().splitlines()[1::2]
    assert fast == usual and len(fast) == 3
    assert b"emit-secret-value-1" not in raw.getvalue()
    with structlog.testing.capture_logs() as captured:  # not the kernel's chain: structlog's
        log.emit("info", "http.request", fields())
    assert captured[0]["event"] == "http.request" and captured[0]["status"] == 404
