"""Invitation emails survive a crash when Jobs is composed (issue 22: "every built-in that
sends mail after a commit").

Before: the invitation email left from this process after the commit, so a web process
killed in between lost it. Now, with a jobs pattern composed, the email is a job committed
with the invitation: an app that stops before sending it (as a killed one would) leaves it
in the queue, and the next worker issues the token and mails it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from rainmaker.capabilities.organizations import Organizations
from rainmaker.kernel.application import Application
from rainmaker.patterns.email.outbox import read_outbox
from rainmaker.patterns.jobs.module import JobsModule
from rainmaker.testing.harness import build_app
from tests.patterns.auth_jwt.conftest import auth_settings
from tests.patterns.organizations.conftest import _TOKEN
from tests.patterns.organizations.test_lifecycle import steps

pytestmark = pytest.mark.asyncio
WAIT = 20.0


class Started:
    """One run of the app on ``root`` (the same SQLite file and outbox across runs)."""

    def __init__(self, app: Application, root: Path) -> None:
        self.app = app
        self.root = root
        self.outbox = root / "outbox"
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    def invitation_token(self, email: str) -> str:
        for message in reversed(read_outbox(self.outbox)):
            if email.lower() in (r.lower() for r in message.recipients):
                found = _TOKEN.search(message.text or "")
                if found is not None:
                    return found.group(1)
        raise AssertionError(f"no invitation email to {email}")

    def invitations_to(self, email: str) -> int:
        return sum(
            1
            for m in read_outbox(self.outbox)
            if email in m.recipients and _TOKEN.search(m.text or "")
        )

    async def run_jobs(self, until: Callable[[], bool], what: str) -> None:
        module = self.app.instances["jobs"].module
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

    async def close(self) -> None:
        await self.client.aclose()
        await self.app.stop()


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    runs: list[Started] = []

    async def run(*, jobs: bool = True) -> Started:
        patterns: dict[str, Any] = {
            "db": {"use": "database-sqlite", "path": "orgs.db"},
            "auth": auth_settings(),
            "mail": {
                "use": "email-console",
                "default_sender": "no-reply@example.com",
                "outbox": "outbox",
            },
            "http": {"use": "framework-fastapi", "access_log": False},
            "orgs": {"use": "organizations"},
        }
        if jobs:
            patterns["jobs"] = {"use": "jobs-local", "poll_interval": 0.05}
        app = build_app(patterns, root=tmp_path)
        await app.start()
        started = Started(app, tmp_path)
        runs.append(started)
        return started

    yield run
    for started in reversed(runs):
        if started.app.state == "running":
            await started.close()


async def test_an_invitation_email_waits_in_the_queue_across_a_stop(start: Any) -> None:
    first = await start()
    owner = await steps.signup(first)
    invitee = await steps.signup(first)
    org = await steps.create_org(first, owner)
    answer = await steps.invite(first, org, owner, invitee.email, "member")
    assert answer.status_code == 201, answer.text
    assert first.invitations_to(invitee.email) == 0  # not sent from the request
    await first.close()  # the process goes away before any worker ran the job

    second = await start()
    await second.run_jobs(lambda: second.invitations_to(invitee.email) == 1, "the invitation")
    token = second.invitation_token(invitee.email)
    accepted = await second.client.post(f"/invitations/{token}/accept", headers=invitee.headers)
    assert accepted.status_code == 200, accepted.text


async def test_the_job_sends_nothing_for_a_withdrawn_invitation(start: Any) -> None:
    app = await start()
    owner = await steps.signup(app)
    org = await steps.create_org(app, owner)
    invitation = (await steps.invite(app, org, owner, "late@example.com", "member")).json()
    withdrawn = await app.client.delete(
        f"/orgs/{org['id']}/invitations/{invitation['id']}", headers=owner.headers
    )
    assert withdrawn.status_code in (200, 204), withdrawn.text
    directory = app.app.services.require(Organizations)
    issued = await directory.invite(org["id"], "python@example.com", invited_by=owner.id)
    assert issued.token is None  # the job issues the token it mails
    await app.run_jobs(lambda: app.invitations_to("python@example.com") == 1, "the second one")
    assert app.invitations_to("late@example.com") == 0


async def test_without_jobs_the_email_leaves_at_once_and_the_start_log_warns(
    start: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    app = await start(jobs=False)
    captured = capsys.readouterr()
    assert "orgs.emails_best_effort" in captured.out + captured.err
    owner = await steps.signup(app)
    org = await steps.create_org(app, owner)
    answer = await steps.invite(app, org, owner, "now@example.com", "member")
    assert answer.status_code == 201, answer.text
    assert app.invitations_to("now@example.com") == 1
