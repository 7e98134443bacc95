"""FastAPI's own OpenTelemetry instrumentation is off unless ``fastapi_telemetry`` asks.

Run in a subprocess: a global tracer provider can be set once per process, and the test
sets one the way an app that configures OpenTelemetry itself would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.patterns.http.conftest import MakeApp

SCRIPT = """
import asyncio, sys
import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import rainmaker

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

async def main():
    app = rainmaker.load(sys.argv[1])
    await app.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await c.get("/api/items/7")).status_code == 200
    finally:
        await app.stop()
    print(len(exporter.get_finished_spans()))

asyncio.run(main())
"""


@pytest.mark.parametrize(("setting", "traced"), [("", False), ("fastapi_telemetry = true", True)])
def test_fastapi_spans_only_when_asked(make_app: MakeApp, setting: str, traced: bool) -> None:
    folder: Path = make_app(http=setting)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    spans = int(done.stdout.strip().splitlines()[-1])
    assert (spans > 0) is traced, f"{spans} spans with {setting or 'the default'}"
