"""The cross-pattern attack classes of issue 19 against the demo SaaS, over real HTTP.

``rainmaker run`` + ``rainmaker worker`` of ``examples/saas`` with its own freshly
generated secrets, in two deployments: its default profile (embedded defaults) and its
production profile (PostgreSQL, Redis, SeaweedFS, an SMTP server and localstripe on
loopback; skipped with the reason when one is missing, failed under CI). Each is
attacked as an outsider and as a signed-up user:

* limiter keys: every per-account limiter counts every spelling of an address (case,
  fullwidth letters, surrounding space) as the one account the lookup finds;
* secrets: tokens and webhooks signed with the values the repository once shipped are
  refused;
* host handling: no redirect carries the request's ``Host`` back; production answers a
  foreign ``Host`` 400 and the dev dashboard refuses one (DNS rebinding);
* open redirects: checkout return URLs stay on the app's origin;
* health exposure: detail only for this machine, never through a proxy; readiness bare;
* secrets in logs: after all of the above, no secret, password or token is in a log line.

Reading across users and organizations on every route with an id is
``test_demo_cross_tenant.py``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
import pytest

from rainmaker.kernel.loading import load
from rainmaker.patterns.email.outbox import read_outbox
from rainmaker.patterns.payments.signatures import sign
from tests.e2e.conftest import SaasProcesses, saas_processes
from tests.proof.flows import PASSWORD, eventually, login
from tests.security.test_published_secrets import SAAS, production_env

# What the demo's toml defaulted to before issue 19: published, so forgeable by anyone.
OLD_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
OLD_WEBHOOK_SECRET = "whsec_dev_only_change_me_0123456789"
LOGIN_PER_ACCOUNT = 10  # auth-jwt's default rate_limits.login_per_account attempts
RESET_PER_ACCOUNT = 3  # and reset_per_account's
PRO_AMOUNT = 1500
DEVELOPMENT_ONLY = pytest.mark.parametrize("demo", ["development"], indirect=True)

Mail = tuple[tuple[str, ...], str, str]  # recipients, subject, plain text


@dataclass
class Demo:
    """A running deployment of the demo, the secrets it was given and what went by."""

    profile: str
    processes: SaasProcesses
    mails: Callable[[], list[Mail]]
    root: Path
    secrets: dict[str, str]
    seen: set[str] = field(default_factory=set)  # tokens and codes that must not be logged

    @property
    def url(self) -> str:
        return self.processes.base_url

    def user(self) -> tuple[str, dict[str, str]]:
        """A fresh verified user and the headers to call as them."""
        email = f"sec-{secrets.token_hex(5)}@example.com"
        answer = httpx.post(
            f"{self.url}/auth/register", json={"email": email, "password": PASSWORD}, timeout=20
        )
        assert answer.status_code in (201, 202), answer.text  # 202: uniform (production)

        def code() -> str | None:
            for recipients, subject, text in self.mails():
                found = re.search(r"confirmation code:\s+(\S+)", text)
                if email in recipients and "Confirm" in subject and found:
                    return found.group(1)
            return None

        token = eventually(code, "the verification email")
        self.seen.add(token)
        answer = httpx.post(f"{self.url}/auth/verify", json={"token": token}, timeout=20)
        assert answer.status_code == 200, answer.text
        answer = login(self.url, email)
        assert answer.status_code == 200, answer.text
        tokens = answer.json()
        self.seen.update({tokens["access_token"], tokens["refresh_token"]})
        return email, {"Authorization": f"Bearer {tokens['access_token']}"}


def _outbox_mails(outbox: Path) -> Callable[[], list[Mail]]:
    def mails() -> list[Mail]:
        found = []
        for message in read_outbox(outbox):
            body = message.message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            found.append((tuple(message.recipients), str(message.message["Subject"]), text))
        return found

    return mails


@contextmanager
def _development(root: Path, given: dict[str, str]) -> Iterator[Demo]:
    env = {
        **given,
        "SAAS_DB_PATH": str(root / "saas.db"),
        "SAAS_OUTBOX": str(root / "outbox"),
        "SAAS_STORAGE_ROOT": str(root / "storage"),
    }
    with saas_processes("development", env, root / "logs") as processes:
        yield Demo("development", processes, _outbox_mails(root / "outbox"), root, given)


@contextmanager
def _production(root: Path, given: dict[str, str]) -> Iterator[Demo]:
    import redis
    import stripe

    from rainmaker.testing.s3_server import S3ServerUnavailable, seaweedfs
    from rainmaker.testing.servers import in_ci, require_server
    from rainmaker.testing.smtp_server import smtp_server
    from rainmaker.testing.stripe_server import API_KEY, stripe_server
    from tests.patterns.database.conftest import (
        PG_HOST,
        PG_PORT,
        create_pg_database,
        drop_pg_database,
        pg_url,
    )

    require_server("PostgreSQL", PG_HOST, PG_PORT)
    require_server("Redis", "127.0.0.1", 6379)
    prefix = f"saas-sec-{secrets.token_hex(4)}"
    smtp_password = secrets.token_urlsafe(16)
    plan_id = "plan_saas_sec_" + secrets.token_hex(4)
    with ExitStack() as stack:
        try:
            s3 = stack.enter_context(seaweedfs())
        except S3ServerUnavailable as error:
            if in_ci():
                pytest.fail(str(error))
            pytest.skip(str(error))
        name = create_pg_database()
        stack.callback(drop_pg_database, name)
        stack.callback(_drop_redis_keys, redis.Redis(host="127.0.0.1", port=6379), prefix)
        smtp = stack.enter_context(smtp_server(users={"saas": smtp_password}))
        localstripe = stack.enter_context(stripe_server())
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
        production = {
            "JWT_SECRET": given["JWT_SECRET"],
            "STRIPE_WEBHOOK_SECRET": given["PAYMENTS_WEBHOOK_SECRET"],
            "SMTP_PASSWORD": smtp_password,
        }
        env = {
            **production,
            "DATABASE_URL": pg_url(name),
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "RAINMAKER__CACHE__KEY_PREFIX": prefix,
            "RAINMAKER__JOBS__KEY_PREFIX": f"{prefix}.jobs",
            "S3_ENDPOINT_URL": s3.endpoint_url,
            "S3_BUCKET": "saas-sec",
            "S3_ACCESS_KEY": s3.access_key,
            "S3_SECRET_KEY": s3.secret_key,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "SMTP_USERNAME": "saas",
            "STRIPE_API_KEY": API_KEY,
            "STRIPE_API_BASE": localstripe.url,
            "STRIPE_PRO_PLAN": plan_id,
        }

        def mails() -> list[Mail]:
            found = []
            for received in smtp.messages:
                body = received.message.get_body(preferencelist=("plain",))
                text = body.get_content() if body is not None else ""
                subject = str(received.message["Subject"])
                found.append((tuple(received.recipients), subject, text))
            return found

        with saas_processes("production", env, root / "logs") as processes:
            yield Demo("production", processes, mails, root, production)


def _drop_redis_keys(client: object, prefix: str) -> None:
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))  # type: ignore[attr-defined]
        if keys:
            client.delete(*keys)  # type: ignore[attr-defined]
    finally:
        client.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module", params=["development", "production"])
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp(f"demo-attacks-{request.param}")
    given = {
        "JWT_SECRET": secrets.token_urlsafe(48),
        "PAYMENTS_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(32),
    }
    deployment = _development if request.param == "development" else _production
    with deployment(root, given) as running:
        yield running


def _fullwidth_first(email: str) -> str:
    """The first letter as its fullwidth form (U+FF50 for p): NFKC folds it back."""
    return chr(ord(email[0]) - 0x21 + 0xFF01) + email[1:]


def _spellings(email: str) -> list[str]:
    return [email.upper(), _fullwidth_first(email), f"  {email}  ", email.title(), email]


# -- limiter keys ------------------------------------------------------------------------------


def test_login_limit_counts_every_spelling_as_the_one_account(demo: Demo) -> None:
    """Five spellings in turn: with a counter each, none would reach the limit."""
    email, _ = demo.user()
    spellings = _spellings(email)
    statuses = [
        login(demo.url, spellings[attempt % len(spellings)], "wrong password!").status_code
        for attempt in range(LOGIN_PER_ACCOUNT)
    ]
    assert set(statuses) <= {401, 429} and 429 in statuses, statuses
    for spelling in spellings:  # locked under every spelling, the right password too
        answer = login(demo.url, spelling)
        assert answer.status_code == 429, (spelling, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_reset_requests_under_every_spelling_share_one_counter(demo: Demo) -> None:
    email, _ = demo.user()
    statuses = [
        httpx.post(f"{demo.url}/auth/password-reset", json={"email": spelling}).status_code
        for spelling in _spellings(email)
    ]
    assert statuses == [202] * RESET_PER_ACCOUNT + [429] * (len(statuses) - RESET_PER_ACCOUNT)

    def resets() -> list[Mail]:
        return [m for m in demo.mails() if email in m[0] and "reset" in m[1].lower()]

    eventually(lambda: len(resets()) == RESET_PER_ACCOUNT or None, "one reset email per 202")


# -- secrets the repository once shipped -------------------------------------------------------


def test_a_token_signed_with_the_old_published_secret_is_refused(demo: Demo) -> None:
    _, auth = demo.user()
    me = httpx.get(f"{demo.url}/auth/me", headers=auth).json()
    now = int(time.time())
    claims = {"sub": me["id"], "iat": now, "exp": now + 600, "type": "access", "roles": ["admin"]}
    forged = jwt.encode(claims, OLD_JWT_SECRET, algorithm="HS256")
    answer = httpx.get(f"{demo.url}/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401, answer.text


def test_a_webhook_signed_with_the_old_published_secret_is_refused(demo: Demo) -> None:
    payload = json.dumps(
        {"id": "evt_forged", "type": "checkout.session.completed", "data": {"object": {}}}
    ).encode()
    answer = httpx.post(
        f"{demo.url}/payments/webhook",
        content=payload,
        headers={"Stripe-Signature": sign(payload, OLD_WEBHOOK_SECRET)},
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


# -- host handling ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8443"])
def test_no_redirect_points_at_the_host_header(demo: Demo, host: str) -> None:
    answer = httpx.get(f"{demo.url}/health/", headers={"Host": host})
    if demo.profile == "production":  # trusted_hosts lists the public name: 400, no redirect
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        return
    assert 300 <= answer.status_code < 400, answer.text
    assert "evil" not in answer.headers["location"], answer.headers["location"]


@DEVELOPMENT_ONLY  # production serves no dashboard (test_the_production_profile_closes_the_edge)
def test_the_dashboard_refuses_a_foreign_host(demo: Demo) -> None:
    own = httpx.get(f"{demo.url}/_rainmaker/api/state")
    assert own.status_code == 200, own.text
    rebound = httpx.get(f"{demo.url}/_rainmaker/api/state", headers={"Host": "evil.example"})
    assert rebound.status_code in (400, 403, 404), rebound.text
    assert demo.secrets["JWT_SECRET"] not in own.text


# -- open redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/account",
        "//evil.example/account",
        "http://127.0.0.1.evil.example/account",
        "javascript:alert(1)",
    ],
)
@pytest.mark.parametrize("which", ["success_url", "cancel_url"])
def test_checkout_return_urls_stay_on_the_app(demo: Demo, target: str, which: str) -> None:
    _, auth = demo.user()
    body = {
        "plan": "pro",
        "success_url": f"{demo.url}/projects/account",
        "cancel_url": f"{demo.url}/projects/account",
        which: target,
    }
    answer = httpx.post(f"{demo.url}/payments/checkout", json=body, headers=auth)
    assert 400 <= answer.status_code < 500, answer.text
    problem = answer.json()
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert problem.get("code"), problem


# -- health exposure -----------------------------------------------------------------------------


def test_health_detail_is_for_this_machine_only(demo: Demo) -> None:
    local = httpx.get(f"{demo.url}/health")
    assert local.status_code == 200, local.text
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        proxied = httpx.get(f"{demo.url}/health", headers={header: "203.0.113.9"})
        assert proxied.status_code == 403, (header, proxied.text)
        assert str(demo.root) not in proxied.text


def test_public_health_answers_are_bare(demo: Demo) -> None:
    """Readiness and liveness answer anyone, proxied or not, with a bare status."""
    for path in ("/health/live", "/health/ready"):
        answer = httpx.get(f"{demo.url}{path}", headers={"X-Forwarded-For": "203.0.113.9"})
        assert answer.status_code == 200, answer.text
        assert str(demo.root) not in answer.text and "pool" not in answer.text, answer.text


# -- the production profile, as composed ---------------------------------------------------------


def test_the_production_profile_closes_the_edge() -> None:
    app = load(SAAS, profile="production", environ=production_env())
    web = app.instances["web"].settings
    assert "*" not in web.trusted_hosts  # type: ignore[attr-defined]
    assert web.health.detail != "public"  # type: ignore[attr-defined]
    dashboard = app.instances["dashboard"].settings
    assert not dashboard.serves_in("production")  # type: ignore[attr-defined]


# -- secrets in logs (last: after every attack above has been logged) ------------------------------


def test_no_secret_password_or_token_reaches_a_log_line(demo: Demo) -> None:
    logs = demo.processes.logs
    text = "".join(
        (logs / f"{name}.log").read_text(errors="replace") for name in ("web", "worker", "migrate")
    )
    assert text, "the processes logged nothing"
    leaked = [
        what
        for what, value in [
            *demo.secrets.items(),
            ("the password", PASSWORD),
            *((f"token {t[:8]}…", t) for t in demo.seen),
        ]
        if value in text
    ]
    assert leaked == []
