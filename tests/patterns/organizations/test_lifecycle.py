"""What the contract cannot see: events and emails only after a commit, a failed email
withdrawing its invitation, the settings' refusals, the purge with and without Jobs, and
the installed ``rainmaker`` validating and testing the pattern."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rainmaker import UnavailableError
from rainmaker.capabilities.jobs import Jobs
from rainmaker.capabilities.organizations import (
    INVITATION_ACCEPTED,
    MEMBER_ADDED,
    ORG_CREATED,
    OrgEvent,
)
from rainmaker.patterns.email.outbox import read_outbox
from rainmaker.patterns.organizations.module import PURGE_JOB, purge_registry
from rainmaker.patterns.organizations.pattern import organizations
from rainmaker.patterns.organizations.settings import OrganizationsSettings
from rainmaker.testing.contracts.organizations import OrganizationsContract, assert_problem
from tests.patterns.organizations.conftest import MakeApp, OrgsApp

RAINMAKER = str(Path(sys.executable).with_name("rainmaker"))
steps = OrganizationsContract()


async def test_nothing_is_emitted_or_sent_for_a_rolled_back_change(orgs_app: OrgsApp) -> None:
    seen: list[OrgEvent] = []

    async def record(event: OrgEvent) -> None:
        seen.append(event)

    for name in (ORG_CREATED, MEMBER_ADDED, INVITATION_ACCEPTED):
        orgs_app.directory.subscribe(name, record)
    owner = await steps.signup(orgs_app)
    directory, db = orgs_app.directory, orgs_app.db
    invitee = f"someone-{uuid.uuid4().hex[:8]}@example.com"

    def invitations_sent() -> int:
        return sum(invitee in m.recipients for m in read_outbox(orgs_app.outbox))

    slug = f"rolled-back-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError, match="roll back"):
        async with db.transaction():  # the caller's unit of work: both calls join it
            org = await directory.create(owner.id, slug=slug, name="Never")
            await directory.invite(org.id, invitee, invited_by=owner.id)
            assert seen == []  # not even before the rollback: events wait for the commit
            raise RuntimeError("roll back")
    assert seen == []
    assert await directory.get(slug) is None
    assert invitations_sent() == 0  # the email waited too

    async with db.transaction():
        org = await directory.create(owner.id, slug=slug, name="Kept")
        await directory.invite(org.id, invitee, invited_by=owner.id)
        assert seen == [] and invitations_sent() == 0
    assert [(e.name, e.org_id) for e in seen] == [(ORG_CREATED, org.id), (MEMBER_ADDED, org.id)]
    assert invitations_sent() == 1


async def test_a_failing_handler_does_not_undo_or_stop_the_others(orgs_app: OrgsApp) -> None:
    seen: list[str] = []

    async def broken(event: OrgEvent) -> None:
        raise RuntimeError("handler bug")

    async def fine(event: OrgEvent) -> None:
        seen.append(event.org_id)

    orgs_app.directory.subscribe(ORG_CREATED, broken)
    orgs_app.directory.subscribe(ORG_CREATED, fine)
    owner = await steps.signup(orgs_app)
    org = await steps.create_org(orgs_app, owner)
    assert seen == [org["id"]]


async def test_the_email_links_to_the_apps_accept_page(make_app: MakeApp) -> None:
    app = await make_app(
        orgs={"accept_url": "https://app.example.com/invite/{token}", "app_name": "Acme"}
    )
    owner = await steps.signup(app)
    org = await steps.create_org(app, owner)
    invited = await app.client.post(
        f"/orgs/{org['id']}/invitations",
        json={"email": "New.Person@Example.com", "role": "admin"},
        headers=owner.headers,
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["email"] == "new.person@example.com"
    (mail,) = [m for m in read_outbox(app.outbox) if "new.person@example.com" in m.recipients]
    assert mail.subject == f"{owner.email} invited you to Acme Labs on Acme"
    assert "https://app.example.com/invite/" in (mail.text or "")
    assert "as admin" in (mail.text or "") and "expires in 7 days" in (mail.text or "")
    assert mail.html is not None and "https://app.example.com/invite/" in mail.html


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_invitation_that_cannot_be_sent_is_withdrawn(make_app: MakeApp) -> None:
    app = await make_app(
        extra={
            "mail": {
                "use": "email-smtp",
                "host": "127.0.0.1",
                "port": closed_port(),
                "security": "none",
                "timeout": 2,
                "verify_on_start": False,
                "default_sender": "no-reply@example.com",
            }
        }
    )
    owner = await steps.signup(app)
    org = await steps.create_org(app, owner)
    answer = await app.client.post(
        f"/orgs/{org['id']}/invitations", json={"email": "x@example.com"}, headers=owner.headers
    )
    assert answer.status_code == 503, answer.text
    assert (await app.directory.invitations(org["id"])) == []
    with pytest.raises(UnavailableError):
        await app.directory.invite(org["id"], "x@example.com", invited_by=owner.id)
    assert (await app.directory.invitations(org["id"])) == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"roles": ["admin", "member"]}, "'owner'"),
        ({"roles": ["admin", "owner", "member"]}, "most powerful first"),
        ({"roles": ["owner", "member", "admin"]}, "'admin' before 'member'"),
        ({"roles": ["owner", "admin", "member", "Bad Role"]}, "lowercase"),
        ({"roles": ["owner", "admin", "member", "member"]}, "once"),
        ({"accept_url": "https://app.example.com/invite"}, "{token}"),
        ({"invitation_ttl": 0}, "greater than 0"),
    ],
)
def test_settings_refuse_what_cannot_work(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        OrganizationsSettings.model_validate(settings)
    assert message in str(raised.value)


def test_examples_validate() -> None:
    for example in organizations.examples:
        OrganizationsSettings.model_validate(example)


async def test_with_jobs_the_purge_is_a_periodic_job(make_app: MakeApp) -> None:
    app = await make_app(orgs={"deletion_grace": 0.001}, extra={"jobs": {"use": "jobs-local"}})
    jobs = app.app.services.require(Jobs)
    await jobs.enqueue(PURGE_JOB)  # known to the queue: the module registered it at start
    with pytest.raises(Exception, match=r"organizations\.no-such-job"):
        await jobs.enqueue("organizations.no-such-job")
    owner = await steps.signup(app)
    org = await steps.create_org(app, owner)
    deleted = await app.directory.delete(org["id"])
    assert deleted.purge_after is not None
    # What a worker runs on each tick: the job's function, bound to the running service.
    module = app.app.instances["orgs"].module
    spec = purge_registry(module.running(), "17 * * * *").get(PURGE_JOB)  # type: ignore[union-attr]
    assert spec is not None and spec.cron == "17 * * * *"
    await spec.func()
    with pytest.raises(Exception) as raised:
        await app.directory.restore(org["id"])
    assert getattr(raised.value, "code", None) == "org_not_found"


def test_the_default_grace_period_is_thirty_days() -> None:
    assert OrganizationsSettings().deletion_grace == timedelta(days=30).total_seconds()


async def test_without_jobs_the_purge_runs_at_start(make_app: MakeApp, tmp_path: Path) -> None:
    app = await make_app(orgs={"deletion_grace": 0.001})
    owner = await steps.signup(app)
    org = await steps.create_org(app, owner)
    await app.directory.delete(org["id"])
    orgs_module = app.app.instances["orgs"].module
    assert orgs_module is not None
    await orgs_module.stop()
    await orgs_module.start()  # the purge at start removes it for good
    service = orgs_module.service  # type: ignore[attr-defined]
    with pytest.raises(Exception) as raised:
        await service.restore(org["id"])
    assert getattr(raised.value, "code", None) == "org_not_found"
    answer = await app.client.get(f"/orgs/{org['id']}", headers=owner.headers)
    assert_problem(answer, 404, "org_not_found")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAINMAKER, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_installed_cli_validates_and_tests_the_pattern(tmp_path: Path) -> None:
    validated = run("pattern", "validate", "organizations", cwd=tmp_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "no findings" in validated.stdout
    tested = run("pattern", "test", "organizations", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "lifecycle conformance" in tested.stdout and "pattern test passed" in tested.stdout
