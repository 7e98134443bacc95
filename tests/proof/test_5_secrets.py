"""Secrets never logged: the logs (stdout and stderr) of full demo runs are searched for
every configured secret value. Two runs: the end-to-end flow of ``tests/e2e`` in the
production profile (PostgreSQL with a password in its URL, Redis, S3, SMTP, Stripe), and the
proof cluster after every other proof ran against it (logins, refreshes, outages,
schemathesis, hostile input)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

import tests.e2e.test_saas as saas
from tests.e2e.conftest import SaasProcesses, saas_processes
from tests.proof.conftest import Cluster, Figures

# The e2e fixtures, so that its production flow can run here unchanged.
postgres_database = saas.postgres_database
redis_prefix = saas.redis_prefix

SECRET_KEYS = (
    "JWT_SECRET",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_KEY",
    "SMTP_PASSWORD",
    "S3_SECRET_KEY",
)


def leaks(logs: list[Path], values: Mapping[str, str]) -> dict[str, list[str]]:
    """For each secret, the log files that contain its value."""
    texts = {path.name: path.read_text(errors="replace") for path in logs}
    return {
        name: [file for file, text in texts.items() if value in text]
        for name, value in values.items()
        if any(value in text for text in texts.values())
    }


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.s3
@pytest.mark.smtp
@pytest.mark.slow
def test_production_flow_logs_no_secret(
    tmp_path: Path,
    postgres_database: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    figures: Figures,
) -> None:
    seen: dict[str, str] = {}
    start = saas_processes
    db_password = "pgpw" + secrets.token_hex(12)

    @contextmanager
    def recording(profile: str, env: Mapping[str, str], logs: Path) -> Iterator[SaasProcesses]:
        # PostgreSQL trusts loopback: a password in the URL is accepted and must not leak.
        url = env["DATABASE_URL"].replace("://postgres@", f"://postgres:{db_password}@")
        assert db_password in url, env["DATABASE_URL"]
        seen.update({key: env[key] for key in SECRET_KEYS}, DB_PASSWORD=db_password)
        with start(profile, {**env, "DATABASE_URL": url}, logs) as processes:
            yield processes

    monkeypatch.setattr(saas, "saas_processes", recording)
    saas.test_flow_in_production_profile(tmp_path, postgres_database, redis_prefix)
    logs = sorted((tmp_path / "logs").glob("*.log"))
    assert {p.name for p in logs} >= {"migrate.log", "web.log", "worker.log"}
    assert len(seen) == len(SECRET_KEYS) + 1 and all(len(v) >= 8 for v in seen.values()), seen
    web = (tmp_path / "logs" / "web.log").read_text()
    assert "/auth/login" in web and "/payments/webhook" in web  # the flow was logged
    found = leaks(logs, seen)
    figures.record(
        "secrets",
        production_flow_secrets_checked=sorted(seen),
        production_flow_log_bytes=sum(p.stat().st_size for p in logs),
        production_flow_leaks=found,
    )
    assert not found, found


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.rabbitmq
@pytest.mark.slow
def test_proof_cluster_logs_no_secret(cluster: Cluster, figures: Figures) -> None:
    deployment = cluster.deployment
    logs = sorted(deployment.logs.glob("*.log"))
    assert len(logs) >= 5
    found = leaks(logs, deployment.secrets)
    figures.record(
        "secrets",
        cluster_secrets_checked=sorted(deployment.secrets),
        cluster_log_bytes=sum(p.stat().st_size for p in logs),
        cluster_leaks=found,
    )
    assert not found, found
