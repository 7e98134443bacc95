"""Scale past one machine: two web processes and two workers share PostgreSQL, Redis and
RabbitMQ. A session started in one process continues in the other, rate limits count
across both, every job runs exactly once and every periodic tick runs once."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from tests.proof.conftest import Cluster, Figures
from tests.proof.flows import PASSWORD, eventually, login, verified_user

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.rabbitmq, pytest.mark.slow]

JOBS = 200


def test_login_in_one_process_refresh_in_the_other(cluster: Cluster, figures: Figures) -> None:
    first, second = cluster.urls
    email = verified_user(first, cluster.deployment.root.parent / "outbox")
    answer = login(first, email)
    assert answer.status_code == 200, answer.text
    pair = answer.json()
    # The access token from process 1 is accepted by process 2 …
    me = httpx.get(f"{second}/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == email, me.text
    # … its refresh token is spent there, and the spent one is refused back in process 1.
    refreshed = httpx.post(f"{second}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    reused = httpx.post(f"{first}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert reused.status_code == 401, reused.text
    figures.record("scale", web_processes=len(cluster.webs), workers=len(cluster.workers))


def test_login_rate_limit_is_shared(cluster: Cluster, figures: Figures) -> None:
    first, second = cluster.urls
    email = f"nobody-{secrets.token_hex(5)}@example.com"
    statuses = []
    # Alternate the processes: each sees only half of the attempts, the limit counts all.
    for attempt in range(30):
        answer = login(cluster.urls[attempt % 2], email, "wrong password " + PASSWORD)
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert answer.headers["content-type"].startswith("application/problem+json")
            break
    assert statuses[-1] == 429, statuses
    allowed = len(statuses) - 1
    assert set(statuses[:-1]) == {401}, statuses
    # Per process, fewer attempts than the limit were made: only a shared count says 429.
    assert allowed <= 10, statuses
    answer = login(first if len(statuses) % 2 else second, email, "another wrong password")
    assert answer.status_code == 429, answer.text
    figures.record("scale", login_attempts_before_429=allowed, login_limit_per_account=10)


def test_each_job_runs_once(cluster: Cluster, figures: Figures) -> None:
    deployment = cluster.deployment
    tag = "batch" + secrets.token_hex(4)
    # Half enqueued by each web process, straight to the broker.
    for index, url in enumerate(cluster.urls):
        answer = httpx.post(
            f"{url}/proofkit/batch", json={"tag": f"{tag}-{index}", "count": JOBS // 2}, timeout=30
        )
        assert answer.status_code == 202, answer.text

    def runs() -> int:
        return int(
            deployment.scalar(
                "SELECT count(*) FROM proofkit_runs WHERE kind = 'job' AND key LIKE $1", f"{tag}%"
            )
        )

    started = time.monotonic()
    eventually(lambda: runs() >= JOBS, f"{JOBS} job runs", timeout=60)
    seconds = time.monotonic() - started
    time.sleep(1.0)  # a doubled run would land now
    rows = deployment.query(
        "SELECT key, count(*) FROM proofkit_runs WHERE kind = 'job' AND key LIKE $1 GROUP BY key",
        f"{tag}%",
    )
    doubled = [key for key, count in rows if count != 1]
    assert len(rows) == JOBS and not doubled, (len(rows), doubled[:10])
    cluster.alive()
    figures.record(
        "scale",
        jobs_enqueued=JOBS,
        job_runs=runs(),
        jobs_doubled=len(doubled),
        jobs_drain_seconds=round(seconds, 2),
    )


def test_periodic_job_runs_once_per_tick(cluster: Cluster, figures: Figures) -> None:
    deployment = cluster.deployment

    def ticks() -> list[tuple[str, int]]:
        return [
            (str(key), int(count))
            for key, count in deployment.query(
                "SELECT key, count(*) FROM proofkit_runs WHERE kind = 'tick' GROUP BY key"
            )
        ]

    eventually(lambda: len(ticks()) >= 5, "five ticks of the periodic job", timeout=30)
    time.sleep(1.0)
    found = ticks()
    doubled = [key for key, count in found if count != 1]
    assert not doubled, doubled
    assert all(key.startswith("cron:proofkit.tick:") for key, _ in found), found[:3]
    figures.record("scale", ticks_seen=len(found), ticks_doubled=len(doubled))
