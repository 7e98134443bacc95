"""Account emails survive a crash when Jobs is composed; ``POST /auth/verify/resend``
(issue 22, finding 3).

Before: the verification email left from an in-process task after the commit, so a web
process killed in between lost it for good, and a user locked out by
``require_verified_email`` had no way to ask for another. Now, with a jobs pattern
composed, the email is a job committed with the account: an app that stops before sending
it (as a killed one would) leaves it in the queue, and the next worker sends it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from rainmaker.capabilities.jobs import Jobs
from rainmaker.patterns.jobs.module import JobsModule
from tests.patterns.auth_jwt.conftest import PASSWORD, AuthApp, MakeApp, assert_problem, new_email
from tests.patterns.auth_jwt.test_flows import token_from

pytestmark = pytest.mark.asyncio

JOBS = {"jobs": {"use": "jobs-local", "poll_interval": 0.05}}
WAIT = 20.0


@pytest.fixture
def database() -> dict[str, Any]:
    """SQLite only: the queue must be this test's alone (a shared PostgreSQL is not)."""
    return {"use": "database-sqlite", "path": "auth.db"}


async def run_jobs(app: AuthApp, until: Any, what: str) -> None:
    """Run the app's jobs worker in this process until ``until()`` is true."""
    module = app.app.instances["jobs"].module
    assert isinstance(module, JobsModule)
    worker = asyncio.create_task(module.work(concurrency=2))
    try:
        deadline = time.monotonic() + WAIT
        while not until():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)
    finally:
        module.stop_working()
        await asyncio.wait_for(worker, WAIT)


def mails_to(app: AuthApp, email: str) -> list[Any]:
    return [m for m in app.mails() if email in m.recipients]


async def waiting_jobs(app: AuthApp) -> int:
    stats = await app.app.services.require(Jobs).stats()
    return sum(s.waiting for s in stats)


async def test_verification_email_waits_in_the_queue_across_a_stop(
    make_app: MakeApp, tmp_path: Path
) -> None:
    folder = tmp_path / "durable"
    first = await make_app(root=folder, extra=JOBS, require_verified_email=True)
    email = await first.register()
    await first.auth.drain()  # nothing in flight in the process: the email is a job
    assert mails_to(first, email) == []
    assert await waiting_jobs(first) == 1
    await first.client.aclose()
    await first.app.stop()  # the process goes away before any worker ran the job

    second = await make_app(root=folder, extra=JOBS, require_verified_email=True)
    await run_jobs(second, lambda: mails_to(second, email), "the verification email")
    (mail,) = mails_to(second, email)
    answer = await second.client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert_problem(answer, 403)  # unverified until the emailed link is followed
    confirmed = await second.client.post("/auth/verify", json={"token": token_from(mail.text)})
    assert confirmed.status_code == 200, confirmed.text
    answer = await second.client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text


async def test_resend_answers_alike_and_mails_only_the_unverified(make_app: MakeApp) -> None:
    app = await make_app(extra=JOBS)
    unverified = await app.register()
    verified = await app.register()
    record = await app.auth.get_user_by_email(verified)
    assert record is not None
    await app.auth.users.update(record.id, verified=True)
    unknown = new_email()
    await run_jobs(app, lambda: mails_to(app, unverified), "the first verification email")
    before = {e: len(mails_to(app, e)) for e in (unverified, verified, unknown)}

    answers = [
        await app.client.post("/auth/verify/resend", json={"email": e})
        for e in (unverified, verified, unknown)
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1  # one body whoever asks

    await run_jobs(app, lambda: len(mails_to(app, unverified)) == 2, "the resent email")
    assert len(mails_to(app, verified)) == before[verified]
    assert len(mails_to(app, unknown)) == 0


async def test_resend_is_rate_limited_per_address(make_app: MakeApp) -> None:
    app = await make_app(extra=JOBS)
    email = f"limited-{uuid.uuid4().hex[:8]}@example.com"
    statuses = [
        (await app.client.post("/auth/verify/resend", json={"email": email})).status_code
        for _ in range(4)
    ]
    assert statuses[:3] == [202, 202, 202]
    answer = await app.client.post("/auth/verify/resend", json={"email": email})
    assert_problem(answer, 429)


async def test_without_jobs_resend_still_mails_and_the_start_log_warns(
    make_app: MakeApp, capfd: pytest.CaptureFixture[str]
) -> None:
    app = await make_app()
    output = "".join(capfd.readouterr())
    assert "auth.emails_best_effort" in output
    email = await app.register()
    await app.auth.drain()
    answer = await app.client.post("/auth/verify/resend", json={"email": email})
    assert answer.status_code == 202, answer.text
    await app.auth.drain()
    assert len(mails_to(app, email)) == 2
