"""Faults: PostgreSQL, Redis and RabbitMQ each cut for a while (through the loopback proxy
the tests control) under a bounded load on both web processes. The app keeps answering,
503 problem+json where it must, 2xx where it can (the cache fails open); it recovers by
itself when the server returns; every note acknowledged with 2xx is committed and every
job enqueued runs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.proof.conftest import Cluster, Figures
from tests.proof.flows import eventually, login, verified_user
from tests.proof.load import Answer, Load, generate

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.rabbitmq, pytest.mark.slow]

CUT_SECONDS = 3.0
RECOVERY_BOUND = 45.0
ACKNOWLEDGED: list[str] = []  # note ids answered 2xx, across the three faults


@pytest.fixture(scope="module")
def token(cluster: Cluster) -> Iterator[str]:
    email = verified_user(cluster.urls[0], cluster.deployment.root.parent / "outbox")
    answer = login(cluster.urls[0], email)
    assert answer.status_code == 200, answer.text
    yield str(answer.json()["access_token"])


def is_problem_503(answer: Answer) -> bool:
    return answer.status == 503 and answer.content_type.startswith("application/problem+json")


def run_fault(cluster: Cluster, server: str, token: str) -> tuple[Load, dict[str, Any]]:
    """Load both processes, cut ``server`` for CUT_SECONDS, restore it, wait to recover."""
    deployment = cluster.deployment
    headers = {"Authorization": f"Bearer {token}"}

    async def note(client: httpx.AsyncClient, url: str, _n: int) -> httpx.Response:
        return await client.post(f"{url}/proofkit/notes")

    async def account(client: httpx.AsyncClient, url: str, _n: int) -> httpx.Response:
        return await client.get(f"{url}/projects/account", headers=headers)

    async def recovered(client: httpx.AsyncClient) -> bool:
        """Both processes ready, and a note posted to each now has its job run."""
        ids = []
        for url in cluster.urls:
            try:
                ready = await client.get(f"{url}/health/ready")
                posted = await client.post(f"{url}/proofkit/notes")
            except httpx.HTTPError:
                return False
            if ready.status_code != 200 or posted.status_code != 201:
                return False
            ids.append(posted.json()["id"])
        ACKNOWLEDGED.extend(ids)
        keys = [f"note:{i}" for i in ids]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            found = await asyncio.to_thread(
                deployment.scalar,
                "SELECT count(DISTINCT key) FROM proofkit_runs WHERE key = ANY($1::text[])",
                keys,
            )
            if found == len(keys):
                return True
            await asyncio.sleep(0.1)
        return False

    async def scenario() -> tuple[Load, dict[str, Any]]:
        stop = asyncio.Event()
        load_task = asyncio.create_task(
            generate(
                cluster.urls,
                [("POST /proofkit/notes", note), ("GET /projects/account", account)],
                concurrency=6,
                max_requests=5000,
                max_seconds=CUT_SECONDS + RECOVERY_BOUND + 5,
                stop=stop,
            )
        )
        facts: dict[str, Any] = {}
        async with httpx.AsyncClient(timeout=10) as client:
            await asyncio.sleep(1.0)  # steady state first
            await asyncio.to_thread(deployment.proxies.cut, server)
            cut = time.monotonic()
            await asyncio.sleep(CUT_SECONDS / 2)
            health = await client.get(f"{cluster.urls[0]}/health")
            ready = await client.get(f"{cluster.urls[1]}/health/ready")
            facts["health_status_during_cut"] = health.status_code
            facts["ready_status_during_cut"] = ready.status_code
            report = health.json()
            facts["health_during_cut"] = report.get("status")
            facts["patterns_during_cut"] = {
                name: item["status"]
                for name, item in report.get("patterns", {}).items()
                if item["status"] != "up"
            }
            await asyncio.sleep(max(0.0, CUT_SECONDS - (time.monotonic() - cut)))
            await asyncio.to_thread(deployment.proxies.restore, server)
            restored = time.monotonic()
            deadline = restored + RECOVERY_BOUND
            back = False
            while time.monotonic() < deadline and not (back := await recovered(client)):
                await asyncio.sleep(0.2)
            facts["recovered"] = back
            facts["recovery_s"] = round(time.monotonic() - restored, 2)
            facts["cut_s"] = round(restored - cut, 2)
            await asyncio.sleep(1.0)  # some traffic after recovery
            facts["after_recovery_from"] = time.monotonic() - 1.0
        stop.set()
        return await load_task, facts

    return asyncio.run(scenario())


def check_fault(
    cluster: Cluster, figures: Figures, server: str, load: Load, facts: dict[str, Any]
) -> None:
    after = facts.pop("after_recovery_from")
    failures = load.failures(allowed=is_problem_503)
    late = [a for a in load.answers if a.at >= after and a.status not in (200, 201)]
    for answer in load.ok:
        if answer.what == "POST /proofkit/notes":
            ACKNOWLEDGED.append(json.loads(answer.body)["id"])
    figures.record(
        f"fault_{server}",
        requests_sent=load.sent,
        requests_2xx=len(load.ok),
        problem_503=len([a for a in load.answers if is_problem_503(a)]),
        failures=len(failures),
        statuses=load.statuses(),
        **facts,
    )
    cluster.alive()
    assert facts["recovered"], f"{server}: no recovery within {RECOVERY_BOUND}s"
    assert not failures, [vars(a) for a in failures[:5]]
    assert not late, [vars(a) for a in late[:5]]


@pytest.mark.parametrize("server", ["postgres", "redis", "rabbitmq"])
def test_server_cut_mid_load(cluster: Cluster, figures: Figures, token: str, server: str) -> None:
    load, facts = run_fault(cluster, server, token)
    check_fault(cluster, figures, server, load, facts)
    if server == "redis":
        # The cache fails open: nothing needed Redis to answer.
        assert len(load.ok) == load.sent, load.statuses()
        assert facts["ready_status_during_cut"] == 200
        assert facts["patterns_during_cut"] == {"cache": "degraded"}, facts
    if server == "postgres":
        assert facts["patterns_during_cut"].get("db") == "down", facts


def test_no_acknowledged_note_or_job_lost(cluster: Cluster, figures: Figures) -> None:
    deployment = cluster.deployment
    assert ACKNOWLEDGED, "the fault tests acknowledged no note"
    rows = deployment.query("SELECT id FROM proofkit_notes WHERE id = ANY($1)", ACKNOWLEDGED)
    stored = {str(row[0]) for row in rows}
    missing = sorted(set(ACKNOWLEDGED) - stored)
    assert not missing, missing[:10]
    keys = [f"note:{i}" for i in ACKNOWLEDGED]

    def runs() -> dict[str, int]:
        return {
            str(key): int(count)
            for key, count in deployment.query(
                "SELECT key, count(*) FROM proofkit_runs WHERE key = ANY($1) GROUP BY key", keys
            )
        }

    eventually(lambda: len(runs()) == len(set(keys)), "every acknowledged note's job", 60)
    found = runs()
    figures.record(
        "faults_durability",
        notes_acknowledged=len(set(ACKNOWLEDGED)),
        notes_committed=len(stored),
        jobs_run=len(found),
        jobs_run_more_than_once=len([k for k, c in found.items() if c > 1]),
    )
