"""The cross-pattern attack classes of issue 19 against the demo SaaS, over real HTTP.

One ``rainmaker run`` + ``rainmaker worker`` pair of ``examples/saas`` (embedded defaults,
its own freshly generated secrets) is attacked as an outsider and as a signed-up user:

* limiter keys: every per-account limiter counts every spelling of an address (case,
  fullwidth letters, surrounding space) as the one account the lookup finds;
* secrets: tokens and webhooks signed with the values the repository once shipped are
  refused;
* host handling: no redirect carries the request's ``Host`` back, and the dev dashboard
  refuses a foreign ``Host`` (DNS rebinding);
* open redirects: checkout return URLs stay on the app's origin;
* health exposure: detail only for this machine, never through a proxy; readiness bare;
* secrets in logs: after all of the above, no secret, password or token is in a log line.

Reading across users and organizations on every route with an id is
``test_demo_cross_tenant.py``. The production profile is checked as composed (its edge
settings); running it needs every server (``tests/e2e``).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
import pytest

from rainmaker.kernel.loading import load
from rainmaker.patterns.email.outbox import read_outbox
from rainmaker.patterns.payments.signatures import sign
from tests.e2e.conftest import SaasProcesses, saas_processes
from tests.proof.flows import PASSWORD, eventually, login, verified_user
from tests.security.test_published_secrets import SAAS, production_env

# What the demo's toml defaulted to before issue 19: published, so forgeable by anyone.
OLD_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
OLD_WEBHOOK_SECRET = "whsec_dev_only_change_me_0123456789"
LOGIN_PER_ACCOUNT = 10  # auth-jwt's default rate_limits.login_per_account attempts
RESET_PER_ACCOUNT = 3  # and reset_per_account's


@dataclass
class Demo:
    """The running demo, the secrets it was given and what the tests saw go by."""

    processes: SaasProcesses
    outbox: Path
    root: Path
    secrets: dict[str, str]
    seen: set[str] = field(default_factory=set)  # tokens and codes that must not be logged

    @property
    def url(self) -> str:
        return self.processes.base_url

    def user(self) -> tuple[str, dict[str, str]]:
        """A fresh verified user and the headers to call as them."""
        email = verified_user(self.url, self.outbox)
        answer = login(self.url, email)
        assert answer.status_code == 200, answer.text
        tokens = answer.json()
        self.seen.update({tokens["access_token"], tokens["refresh_token"]})
        return email, {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("demo-attacks")
    given = {
        "JWT_SECRET": secrets.token_urlsafe(48),
        "PAYMENTS_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(32),
    }
    env = {
        **given,
        "SAAS_DB_PATH": str(root / "saas.db"),
        "SAAS_OUTBOX": str(root / "outbox"),
        "SAAS_STORAGE_ROOT": str(root / "storage"),
    }
    with saas_processes("development", env, root / "logs") as processes:
        yield Demo(processes, root / "outbox", root, given)


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

    def resets() -> list[object]:
        return [
            m
            for m in read_outbox(demo.outbox)
            if email in m.recipients and "reset" in str(m.message["Subject"]).lower()
        ]

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
    assert 300 <= answer.status_code < 400, answer.text
    assert "evil" not in answer.headers["location"], answer.headers["location"]


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
