"""The demo SaaS end to end, over HTTP, against real ``rainmaker run`` and ``rainmaker worker``
processes: sign up (which makes a personal organization), verify the email, log in, create a
project of the organization and upload its file, hit the free plan's limit, subscribe
through checkout, see the organization's limit rise, invite a teammate by email who accepts
and sees the organization's projects, create a project from the CI script with an API key,
and receive the welcome email that a job sent after the signup committed.

Two profiles: the default one (embedded defaults only: SQLite, memory cache, local storage,
console email, local jobs and payments) and ``production`` (PostgreSQL, Redis for the cache
and the jobs, SeaweedFS for S3, aiosmtpd for SMTP, localstripe for Stripe).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rainmaker.testing.servers import require_server
from tests.e2e.conftest import APP, SaasProcesses, saas_processes

PASSWORD = "correct horse battery staple"
PRO_AMOUNT = 1500
WAIT = 60.0  # a bound for a busy machine, never an asserted duration
CI_SCRIPT = APP / "scripts" / "ci_create_project.py"


@dataclass(frozen=True)
class Mail:
    """One email the app sent: its envelope recipients, subject and text body."""

    recipients: tuple[str, ...]
    subject: str
    text: str


@dataclass
class Profile:
    """How the flow observes one profile: its mail, its database, its checkout page."""

    processes: SaasProcesses
    mails: Callable[[], list[Mail]]
    query: Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]
    pay: Callable[[httpx.Client, dict[str, Any]], None]


def eventually(check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll ``check`` until it returns something truthy (no duration is asserted)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def sign_up_and_log_in(client: httpx.Client, profile: Profile, email: str) -> dict[str, str]:
    """Register ``email``, confirm it with the code from its email, log in: auth headers."""
    answer = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert answer.status_code in (201, 202), answer.text  # 202: uniform in production

    def confirmation() -> Mail | None:
        found = [m for m in profile.mails() if email in m.recipients]
        return next((m for m in found if "Confirm" in m.subject), None)

    mail = eventually(confirmation, f"the verification email to {email}")
    match = re.search(r"confirmation code:\s+(\S+)", mail.text)
    assert match, mail.text
    assert client.post("/auth/verify", json={"token": match.group(1)}).status_code == 200
    answer = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def run_ci_script(
    base_url: str, api_key: str, org: str | None, name: str
) -> subprocess.CompletedProcess[str]:
    """The demo's CI script, as a CI job runs it (its own process, only the environment)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SAAS_")},
        "SAAS_URL": base_url,
        "SAAS_API_KEY": api_key,
    }
    if org is not None:
        env["SAAS_ORG"] = org
    return subprocess.run(
        [sys.executable, str(CI_SCRIPT), name],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def drive_flow(profile: Profile) -> None:
    email = f"owner-{secrets.token_hex(5)}@example.com"
    with httpx.Client(base_url=profile.processes.base_url, timeout=20) as client:
        # Sign up: the user and its payment customer commit together.
        answer = client.post("/auth/register", json={"email": email, "password": PASSWORD})
        if answer.status_code == 202:
            # The production profile answers new and taken addresses alike (issue 19):
            # the new account is found by its address instead.
            [(user_id,)] = profile.query(
                "SELECT id FROM auth_users WHERE email_canonical = {}", (email,)
            )
        else:
            assert answer.status_code == 201, answer.text
            user_id = answer.json()["id"]
        customers = profile.query(
            "SELECT provider_id FROM payments_customers WHERE user_id = {}", (user_id,)
        )
        assert len(customers) == 1 and customers[0][0]

        # Logging in needs a verified address.
        answer = client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 403, answer.text
        assert answer.json()["code"] == "email_not_verified"

        def mails_to_me() -> list[Mail]:
            return [mail for mail in profile.mails() if email in mail.recipients]

        def confirmation() -> Mail | None:
            return next((m for m in mails_to_me() if "Confirm" in m.subject), None)

        mail: Mail = eventually(confirmation, "the verification email")
        match = re.search(r"confirmation code:\s+(\S+)", mail.text)
        assert match, mail.text
        answer = client.post("/auth/verify", json={"token": match.group(1)})
        assert answer.status_code == 200, answer.text
        assert answer.json()["verified"] is True

        answer = client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

        # Sign up made a personal organization, committed with the user.
        orgs = client.get("/orgs").json()["organizations"]
        assert [(o["role"], o["name"]) for o in orgs] == [("owner", f"{email}'s projects")]
        org_id, org_slug = orgs[0]["id"], orgs[0]["slug"]
        assert profile.query("SELECT user_id FROM orgs_members WHERE org_id = {}", (org_id,)) == [
            (user_id,)
        ]

        # The welcome email is sent by the worker, from a job enqueued in the signup
        # transaction.
        def welcome() -> Mail | None:
            return next((m for m in mails_to_me() if "Welcome" in m.subject), None)

        eventually(welcome, "the welcome email sent by the worker")
        account = client.get("/projects/account").json()
        assert account["plan"] == "free" and account["limit"] == 1 and account["used"] == 0
        assert account["welcome_sent"] is True
        # Without X-Organization the projects routes act in the personal organization.
        assert (account["org_id"], account["role"]) == (org_id, "owner")
        named = client.get("/projects/account", headers={"X-Organization": org_slug}).json()
        assert named["org_id"] == org_id

        # A project with an uploaded file.
        answer = client.post("/projects", json={"name": "first"})
        assert answer.status_code == 201, answer.text
        project_id = answer.json()["id"]
        content = b"quarterly numbers\n" + secrets.token_bytes(2048)
        answer = client.put(
            f"/projects/{project_id}/file",
            files={"file": ("report.bin", content, "application/octet-stream")},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["file"] == {
            "name": "report.bin",
            "size": len(content),
            "content_type": "application/octet-stream",
        }
        answer = client.get(f"/projects/{project_id}/file")
        assert answer.status_code == 200 and answer.content == content

        # The free plan allows one project.
        answer = client.post("/projects", json={"name": "second"})
        assert answer.status_code == 403, answer.text
        assert answer.json()["code"] == "projects_plan_limit"

        # The organization subscribes through checkout (one seat: its one member); the
        # limit follows its subscription.
        back = f"{profile.processes.base_url}/projects/account"
        answer = client.post(
            f"/payments/orgs/{org_id}/checkout",
            json={"plan": "pro", "success_url": back, "cancel_url": back},
        )
        assert answer.status_code == 201, answer.text
        checkout = answer.json()
        assert checkout["mode"] == "subscription" and checkout["amount"] == PRO_AMOUNT
        assert checkout["seats"] == 1
        profile.pay(client, checkout)

        def subscribed() -> dict[str, Any] | None:
            found = client.get(f"/payments/orgs/{org_id}/subscription")
            return found.json() if found.status_code == 200 and found.json()["active"] else None

        subscription = eventually(subscribed, "the organization's active subscription")
        assert subscription["plan"] == "pro"
        assert subscription["owner"] == {"kind": "org", "id": org_id}
        # The owner's own (user) subscription is not where the organization's plan lives.
        assert client.get("/payments/subscription").status_code == 404

        def upgraded() -> dict[str, Any] | None:
            found = client.get("/projects/account").json()
            return found if found["plan"] == "pro" else None

        account = eventually(upgraded, "the pro plan's limit")
        assert account["limit"] == 10 and account["used"] == 1
        answer = client.post("/projects", json={"name": "second"})
        assert answer.status_code == 201, answer.text
        listed = client.get("/projects").json()["projects"]
        assert [p["name"] for p in listed] == ["first", "second"]

        # A teammate, invited by email, accepts and sees the organization's projects; the
        # plan is the organization's, not the teammate's.
        mate = f"mate-{secrets.token_hex(5)}@example.com"
        answer = client.post(f"/orgs/{org_id}/invitations", json={"email": mate})
        assert answer.status_code == 201, answer.text

        def invitation() -> Mail | None:
            found = [m for m in profile.mails() if mate in m.recipients]
            return next((m for m in found if "invited you" in m.subject), None)

        mail = eventually(invitation, "the invitation email")
        match = re.search(r"/invitations/(\S+)/accept", mail.text)
        assert match, mail.text
        mate_auth = sign_up_and_log_in(client, profile, mate)
        answer = client.post(f"/invitations/{match.group(1)}/accept", headers=mate_auth)
        assert answer.status_code in (200, 201), answer.text
        in_org = {**mate_auth, "X-Organization": org_id}
        seen = client.get("/projects", headers=in_org).json()["projects"]
        assert [p["name"] for p in seen] == ["first", "second"]
        answer = client.get(f"/projects/{project_id}/file", headers=in_org)
        assert answer.status_code == 200 and answer.content == content
        mate_account = client.get("/projects/account", headers=in_org).json()
        assert (mate_account["plan"], mate_account["role"]) == ("pro", "member")
        # Any member reads the organization's subscription; only admins and owners pay.
        answer = client.get(f"/payments/orgs/{org_id}/subscription", headers=mate_auth)
        assert answer.status_code == 200 and answer.json()["plan"] == "pro", answer.text
        answer = client.post(
            f"/payments/orgs/{org_id}/subscription/cancel", headers=mate_auth, json={}
        )
        assert answer.status_code == 403 and answer.json()["code"] == "org_role_required"

        def two_seats() -> dict[str, Any] | None:
            found = client.get(f"/payments/orgs/{org_id}/subscription").json()
            return found if found["seats"] == 2 else None

        eventually(two_seats, "the teammate's seat on the subscription")
        # The teammate's own personal organization stays theirs alone.
        assert client.get("/projects", headers=mate_auth).json() == {"projects": []}
        # A spent invitation is refused.
        answer = client.post(f"/invitations/{match.group(1)}/accept", headers=mate_auth)
        assert answer.status_code == 410 and answer.json()["code"] == "org_invitation_spent"

        # CI creates a project with the organization's own API key (shown once): it acts
        # in its organization without naming it, and keeps working whoever leaves.
        answer = client.post(
            f"/orgs/{org_id}/api-keys", json={"name": "ci", "scopes": ["projects:write"]}
        )
        assert answer.status_code == 201, answer.text
        org_key, org_key_id = answer.json()["key"], answer.json()["id"]
        base_url = profile.processes.base_url
        done = run_ci_script(base_url, org_key, None, "nightly build")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["name"] == "nightly build"
        listed = client.get("/projects", headers=mate_auth | {"X-Organization": org_id})
        assert [p["name"] for p in listed.json()["projects"]] == [
            "first",
            "second",
            "nightly build",
        ]
        # The key is its organization's only: another one is not found.
        mate_orgs = client.get("/orgs", headers=mate_auth).json()["organizations"]
        mate_org = next(o["id"] for o in mate_orgs if o["id"] != org_id)
        refused = run_ci_script(base_url, org_key, mate_org, "elsewhere")
        assert refused.returncode == 1 and "org_not_found" in refused.stderr, refused.stderr
        # A personal key acts as its user, in the user's organizations, with its scopes: made
        # without the write scope, it reads but does not create.
        answer = client.post("/api-keys", json={"name": "read-only"})
        read_only = answer.json()["key"]
        refused = run_ci_script(base_url, read_only, org_slug, "not allowed")
        assert refused.returncode == 1, refused.stdout
        assert "insufficient_permission" in refused.stderr, refused.stderr
        seen = client.get("/projects", headers={"X-API-Key": read_only, "X-Organization": org_id})
        assert len(seen.json()["projects"]) == 3
        # Revoked, the organization's key stops at once.
        assert client.delete(f"/orgs/{org_id}/api-keys/{org_key_id}").status_code == 204
        refused = run_ci_script(base_url, org_key, None, "after revoke")
        assert refused.returncode == 1, refused.stdout

        # Nobody else sees the file: not without a token, not another user, not even when
        # naming the organization.
        anonymous = httpx.get(f"{profile.processes.base_url}/projects/{project_id}/file")
        assert anonymous.status_code == 401, anonymous.text
        other = f"other-{secrets.token_hex(5)}@example.com"
        stranger = sign_up_and_log_in(client, profile, other)
        answer = client.get(f"/projects/{project_id}/file", headers=stranger)
        assert answer.status_code == 404, answer.text
        answer = client.get(
            f"/projects/{project_id}/file", headers={**stranger, "X-Organization": org_id}
        )
        assert answer.status_code == 404 and answer.json()["code"] == "org_not_found"

    # Exactly one welcome email, however often the job ran.
    time.sleep(0.5)
    assert len([m for m in mails_to_me() if "Welcome" in m.subject]) == 1


# -- the default profile: embedded defaults only ----------------------------------------------


def test_flow_with_embedded_defaults(tmp_path: Path) -> None:
    from rainmaker.patterns.email.outbox import read_outbox

    database = tmp_path / "saas.db"
    outbox = tmp_path / "outbox"
    env = {
        "SAAS_DB_PATH": str(database),
        "SAAS_OUTBOX": str(outbox),
        "SAAS_STORAGE_ROOT": str(tmp_path / "storage"),
    }

    def mails() -> list[Mail]:
        found = []
        for message in read_outbox(outbox):
            body = message.message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            found.append(Mail(message.recipients, str(message.message["Subject"]), text))
        return found

    def query(sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with sqlite3.connect(database) as connection:
            return list(connection.execute(sql.format("?"), params))

    def pay(client: httpx.Client, checkout: dict[str, Any]) -> None:
        page = client.get(checkout["url"])
        assert page.status_code == 200 and "Simulated checkout" in page.text
        answer = client.post(f"{checkout['url']}/complete")
        assert answer.status_code == 303, answer.text

    with saas_processes("development", env, tmp_path / "logs") as processes:
        try:
            drive_flow(Profile(processes, mails, query, pay))
        except BaseException:
            print(processes.log_tail())
            raise
    assert (tmp_path / "storage").is_dir() and any((tmp_path / "storage").rglob("*"))


# -- the production profile: real servers and stand-ins on loopback ----------------------------


@pytest.fixture
def postgres_database() -> Iterator[str]:
    from tests.patterns.database.conftest import (
        PG_HOST,
        PG_PORT,
        create_pg_database,
        drop_pg_database,
        pg_url,
    )

    require_server("PostgreSQL", PG_HOST, PG_PORT)
    name = create_pg_database()
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    require_server("Redis", "127.0.0.1", 6379)
    prefix = f"saas-e2e-{secrets.token_hex(4)}"
    yield prefix
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.s3
@pytest.mark.smtp
def test_flow_in_production_profile(
    tmp_path: Path, postgres_database: str, redis_prefix: str
) -> None:
    import asyncpg
    import stripe

    from rainmaker.testing.s3_server import S3ServerUnavailable, seaweedfs
    from rainmaker.testing.servers import in_ci
    from rainmaker.testing.smtp_server import smtp_server
    from rainmaker.testing.stripe_server import API_KEY, sign_webhook, stripe_server

    webhook_secret = "whsec_e2e_" + secrets.token_urlsafe(32)
    smtp_password = secrets.token_urlsafe(12)
    plan_id = "plan_saas_pro_" + secrets.token_hex(4)
    try:
        s3_context = seaweedfs()
        s3 = s3_context.__enter__()
    except S3ServerUnavailable as error:
        if in_ci():
            pytest.fail(str(error))
        pytest.skip(str(error))
    try:
        with smtp_server(users={"saas": smtp_password}) as smtp, stripe_server() as localstripe:
            sdk = stripe.StripeClient(API_KEY, base_addresses={"api": localstripe.url})
            sdk.v1.plans.create(
                {
                    "id": plan_id,
                    "amount": PRO_AMOUNT,
                    "currency": "usd",
                    "interval": "month",
                    "product": {"name": "Pro"},
                }
            )
            env = {
                "DATABASE_URL": postgres_database,
                "REDIS_URL": "redis://127.0.0.1:6379/0",
                "RAINMAKER__CACHE__KEY_PREFIX": redis_prefix,
                "RAINMAKER__JOBS__KEY_PREFIX": f"{redis_prefix}.jobs",
                "JWT_SECRET": secrets.token_urlsafe(40),
                "S3_ENDPOINT_URL": s3.endpoint_url,
                "S3_BUCKET": "saas-e2e",
                "S3_ACCESS_KEY": s3.access_key,
                "S3_SECRET_KEY": s3.secret_key,
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(smtp.port),
                "SMTP_SECURITY": "none",
                "SMTP_USERNAME": "saas",
                "SMTP_PASSWORD": smtp_password,
                "STRIPE_API_KEY": API_KEY,
                "STRIPE_WEBHOOK_SECRET": webhook_secret,
                "STRIPE_API_BASE": localstripe.url,
                "STRIPE_PRO_PLAN": plan_id,
            }

            def mails() -> list[Mail]:
                found = []
                for received in smtp.messages:
                    body = received.message.get_body(preferencelist=("plain",))
                    text = body.get_content() if body is not None else ""
                    subject = str(received.message["Subject"])
                    found.append(Mail(received.recipients, subject, text))
                return found

            def query(sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
                async def run() -> list[tuple[Any, ...]]:
                    connection = await asyncpg.connect(postgres_database)
                    try:
                        rows = await connection.fetch(sql.format("$1"), *params)
                    finally:
                        await connection.close()
                    return [tuple(row) for row in rows]

                return asyncio.run(run())

            def post_event(client: httpx.Client, kind: str, obj: dict[str, Any]) -> None:
                import json

                body = json.dumps(
                    {
                        "id": "evt_" + secrets.token_hex(12),
                        "object": "event",
                        "type": kind,
                        "created": int(time.time()),
                        "livemode": False,
                        "data": {"object": obj},
                    }
                ).encode()
                answer = client.post(
                    "/payments/webhook",
                    content=body,
                    headers={
                        "stripe-signature": sign_webhook(body, webhook_secret),
                        "content-type": "application/json",
                    },
                )
                assert answer.status_code == 200, answer.text

            def pay(client: httpx.Client, checkout: dict[str, Any]) -> None:
                # What Stripe Checkout does once the card is accepted, then the events it
                # sends to the webhook (signed with the endpoint's secret).
                session = localstripe.session(checkout["id"])
                customer = session["customer"]
                card = sdk.v1.payment_methods.create(
                    {
                        "type": "card",
                        "card": {
                            "number": "4242424242424242",
                            "exp_month": 12,
                            "exp_year": time.gmtime().tm_year + 2,
                            "cvc": "123",
                        },
                    }
                )
                sdk.v1.payment_methods.attach(card.id, {"customer": customer})
                sdk.v1.customers.update(
                    customer, {"invoice_settings": {"default_payment_method": card.id}}
                )
                plan = session["line_items"][0]["price"]
                subscription = sdk.v1.subscriptions.create(
                    {"customer": customer, "items": [{"plan": plan}]}
                ).to_dict()
                invoice = sdk.v1.invoices.retrieve(subscription["latest_invoice"]).to_dict()
                completed = {
                    **session,
                    "status": "complete",
                    "payment_status": "paid",
                    "subscription": subscription["id"],
                }
                post_event(client, "checkout.session.completed", completed)
                post_event(client, "customer.subscription.created", subscription)
                post_event(client, "invoice.paid", invoice)

            with saas_processes("production", env, tmp_path / "logs") as processes:
                try:
                    drive_flow(Profile(processes, mails, query, pay))
                except BaseException:
                    print(processes.log_tail())
                    raise
            objects = query("SELECT count(*) FROM projects_projects WHERE file_key IS NOT NULL", ())
            assert objects[0][0] >= 1
    finally:
        s3_context.__exit__(None, None, None)


def test_a_long_address_still_gets_its_personal_organization(tmp_path: Path) -> None:
    """The personal organization's slug and name come from the address: the longest one
    auth accepts still makes a valid slug and a name within the 200-character bound (else
    the signup, which makes both in one transaction, would fail)."""
    from rainmaker.patterns.email.outbox import read_outbox

    label = ".".join(["z" * 61, "z" * 61, "z" * 50])
    email = f"Odd.Name+{'y' * 40}-{secrets.token_hex(4)}@{label}.example"
    outbox = tmp_path / "outbox"
    env = {
        "SAAS_DB_PATH": str(tmp_path / "saas.db"),
        "SAAS_OUTBOX": str(outbox),
        "SAAS_STORAGE_ROOT": str(tmp_path / "storage"),
    }

    def mails() -> list[Mail]:
        found = []
        for message in read_outbox(outbox):
            body = message.message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            found.append(Mail(message.recipients, str(message.message["Subject"]), text))
        return found

    with (
        saas_processes("development", env, tmp_path / "logs") as processes,
        httpx.Client(base_url=processes.base_url, timeout=20) as client,
    ):
        profile = Profile(processes, mails, lambda _sql, _params: [], lambda _c, _o: None)
        auth = sign_up_and_log_in(client, profile, email)
        [org] = client.get("/orgs", headers=auth).json()["organizations"]
        assert re.fullmatch(r"odd-name-y+-[0-9a-f]{6}", org["slug"]), org["slug"]
        assert len(org["name"]) <= 200 and org["name"].endswith("…'s projects")
        answer = client.post("/projects", headers=auth, json={"name": "first"})
        assert answer.status_code == 201, answer.text
