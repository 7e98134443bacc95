"""Graceful shutdown under load: SIGTERM arrives while a bounded load runs against a web
process. Readiness turns 503 first, the generator then stops sending (as a load balancer
would), every request sent before that completes with 2xx, the process exits 0 within
its drain bound and every note it acknowledged is committed."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

import httpx
import pytest

from tests.proof.conftest import (
    Cluster,
    Deployment,
    Figures,
    start_web,
    stop_processes,
    wait_ready,
)
from tests.proof.load import Load, generate, watch_readiness

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.rabbitmq, pytest.mark.slow]

DELAY = 1.0  # seconds readiness says 503 before the socket closes
DRAIN = 10.0  # seconds in-flight requests get after that
SIGTERM_AFTER = 150  # requests answered before the signal


async def note(client: httpx.AsyncClient, url: str, _n: int) -> httpx.Response:
    return await client.post(f"{url}/proofkit/notes")


async def openapi(client: httpx.AsyncClient, url: str, _n: int) -> httpx.Response:
    return await client.get(f"{url}/openapi.json")


def test_sigterm_under_load_loses_no_request(cluster: Cluster, figures: Figures) -> None:
    deployment = cluster.deployment
    web = start_web(
        deployment,
        "web-drain",
        RAINMAKER__WEB__SHUTDOWN__DELAY=str(DELAY),
        RAINMAKER__WEB__SHUTDOWN__TIMEOUT=str(DRAIN),
    )
    try:
        wait_ready([web])
        url = str(web.base_url)

        async def scenario() -> tuple[Load, float, float]:
            stop = asyncio.Event()
            watcher = asyncio.create_task(watch_readiness(url, stop))
            load_task = asyncio.create_task(
                generate(
                    [url],
                    [("POST /proofkit/notes", note), ("GET /openapi.json", openapi)],
                    concurrency=8,
                    max_requests=3000,
                    max_seconds=30.0,
                    stop=stop,
                )
            )
            # Wait for some traffic, then signal while requests are in flight.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                answered = await asyncio.to_thread(_count_notes, deployment)
                if answered >= SIGTERM_AFTER // 2:
                    break
            signalled = time.monotonic()
            web.popen.send_signal(signal.SIGTERM)
            not_ready = await watcher
            return await load_task, signalled, not_ready

        before = _count_notes(deployment)
        load, signalled, not_ready = asyncio.run(scenario())
        try:
            code = web.popen.wait(timeout=DELAY + DRAIN + 15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"web-drain did not exit within {DELAY + DRAIN + 15}s:\n{web.tail()}")
        exited = time.monotonic()
        failures = load.failures()
        notes_ok = [a for a in load.ok if a.what == "POST /proofkit/notes"]
        after = _count_notes(deployment)
        figures.record(
            "graceful_shutdown",
            requests_sent=load.sent,
            requests_2xx=len(load.ok),
            failures=len(failures),
            statuses=load.statuses(),
            sent_after_sigterm=len([a for a in load.answers if a.at >= signalled]),
            readiness_503_after_sigterm_s=round(not_ready - signalled, 3),
            exit_code=code,
            exit_after_sigterm_s=round(exited - signalled, 2),
            notes_acknowledged=len(notes_ok),
            notes_committed=after - before,
        )
        assert not failures, [vars(a) for a in failures[:5]]
        assert code == 0, web.tail()
        assert after - before >= len(notes_ok)
        assert load.sent >= SIGTERM_AFTER // 2
        log = web.log.read_text()
        assert "server.draining" in log
    finally:
        stop_processes([web])


def _count_notes(deployment: Deployment) -> int:
    return int(deployment.scalar("SELECT count(*) FROM proofkit_notes"))
