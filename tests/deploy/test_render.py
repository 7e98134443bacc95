"""Deployment artifacts for examples/starter and a production-like composition."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from rainmaker.deploy import compose, dockerfile, kubernetes
from rainmaker.deploy.plan import DeploymentPlan, plan_deployment

STARTER = Path(__file__).parents[2] / "examples" / "starter"
K8S_VERSION = kubernetes_validate.latest_version()

PRODUCTION_LIKE = """
[app]
name = "Acme_Shop"

[patterns.web]
use = "framework-fastapi"
title = "Acme"

[patterns.db]
use = "database-sqlite"

[patterns.cache]
use = "cache-memory"

[patterns.jobs]
use = "jobs-local"

[patterns.files]
use = "storage-local"

[patterns.mail]
use = "email-console"
default_sender = "shop@acme.example"

[profiles.production.patterns.web]
shutdown = { delay = 7, timeout = 40 }

[profiles.production.patterns.db]
use = "database-postgres"
url = "${DATABASE_URL}"

[profiles.production.patterns.cache]
use = "cache-redis"
url = "redis://cache.internal:6379/0"
password = "${REDIS_PASSWORD}"

[profiles.production.patterns.jobs]
use = "jobs-redis"
url = "${JOBS_REDIS_URL}"
drain_timeout = 90

[profiles.production.patterns.files]
use = "storage-s3"
bucket = "acme-files"
endpoint_url = "${S3_ENDPOINT:-https://s3.eu-west-1.amazonaws.com}"
access_key = "AKIAEXAMPLELITERAL"
secret_key = "${S3_SECRET_KEY}"

[profiles.production.patterns.mail]
use = "email-smtp"
host = "smtp.acme.example"
username = "mailer"
default_sender = "shop@acme.example"
password = "${SMTP_PASSWORD}"
"""


@pytest.fixture
def production_like(tmp_path: Path) -> DeploymentPlan:
    (tmp_path / "rainmaker.toml").write_text(PRODUCTION_LIKE)
    return plan_deployment(tmp_path, profile="production")


@pytest.fixture
def starter() -> DeploymentPlan:
    return plan_deployment(STARTER, profile="production")


def manifests(plan: DeploymentPlan) -> list[dict[str, Any]]:
    documents = list(yaml.safe_load_all(kubernetes.render(plan)))
    assert documents == kubernetes.build(plan)  # the text is exactly the data
    return documents


def by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind]


# -- the plan ---------------------------------------------------------------------------


def test_plan_reads_what_the_profile_composes(production_like: DeploymentPlan) -> None:
    plan = production_like
    assert plan.servers == ["postgres", "redis", "s3", "smtp"]
    assert plan.extras == ["http", "jobs-redis", "postgres", "redis", "s3", "smtp"]
    assert plan.drain_bound == 47
    assert plan.worker_drain_bound == 90
    assert plan.jobs_instance == "jobs" and plan.migrates


def test_output_does_not_depend_on_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rainmaker.toml").write_text(PRODUCTION_LIKE)
    before = kubernetes.render(plan_deployment(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:leaked@db.example/app")
    monkeypatch.setenv("RAINMAKER__WEB__TITLE", "Changed")
    assert kubernetes.render(plan_deployment(tmp_path)) == before
    assert "leaked" not in before


# -- Dockerfile -------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["starter", "production_like"])
def test_dockerfile_has_the_essentials(which: str, request: pytest.FixtureRequest) -> None:
    plan: DeploymentPlan = request.getfixturevalue(which)
    text = dockerfile.render(plan)
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    ops = [line.split()[0] for line in lines]
    assert lines[0] == "FROM python:3.11-slim"
    requirement = re.search(r'RAINMAKER_REQUIREMENT="rainmaker-patterns\[([^\]]*)\]"', text)
    assert requirement is not None and requirement.group(1).split(",") == plan.extras
    user = next(line for line in lines if line.startswith("USER "))
    assert user.split()[1].split(":")[0] not in ("0", "root")
    assert ops.index("USER") < ops.index("CMD")  # the app runs as that user
    assert '"rainmaker", "run"' in lines[-1] and '"--host", "0.0.0.0"' in lines[-1]
    healthcheck = next(line for line in lines if line.startswith("HEALTHCHECK"))
    assert f"{plan.health_path}/live" in healthcheck


# -- compose ----------------------------------------------------------------------------


def test_compose_runs_the_servers_the_profile_needs(production_like: DeploymentPlan) -> None:
    document = yaml.safe_load(compose.render(production_like))
    assert document == compose.build(production_like)
    services = document["services"]
    assert set(services) == {"migrate", "web", "worker", "postgres", "redis", "s3", "smtp"}
    web = services["web"]
    assert web["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert web["environment"]["DATABASE_URL"] == "postgresql://app:app@postgres:5432/app"
    assert web["environment"]["JOBS_REDIS_URL"] == "redis://redis:6379/1"
    assert web["environment"]["SMTP_PASSWORD"] == "${SMTP_PASSWORD}"  # from the shell
    assert services["worker"]["command"][:2] == ["rainmaker", "worker"]
    assert int(web["stop_grace_period"].rstrip("s")) > production_like.drain_bound
    assert int(services["worker"]["stop_grace_period"].rstrip("s")) >= 90
    for name, service in services.items():
        assert "image" in service, name
        for dependency in service.get("depends_on", {}):
            assert dependency in services
    for volume in document.get("volumes", {}):
        assert any(
            str(v).startswith(f"{volume}:") for s in services.values() for v in s.get("volumes", ())
        )


def test_compose_for_the_starter_needs_only_postgres(starter: DeploymentPlan) -> None:
    services = compose.build(starter)["services"]
    assert set(services) == {"migrate", "web", "postgres"}


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker is not installed")
def test_docker_compose_accepts_the_file(tmp_path: Path, production_like: DeploymentPlan) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(compose.render(production_like))
    (tmp_path / "Dockerfile").write_text(dockerfile.render(production_like))
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("docker compose is not available")
    result = subprocess.run(
        ["docker", "compose", "-f", str(path), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={"SMTP_PASSWORD": "x", "REDIS_PASSWORD": "x", "S3_SECRET_KEY": "x"},
    )
    assert result.returncode == 0, result.stderr


# -- Kubernetes -------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["starter", "production_like"])
def test_manifests_validate_against_the_kubernetes_schemas(
    which: str, request: pytest.FixtureRequest
) -> None:
    plan: DeploymentPlan = request.getfixturevalue(which)
    for document in manifests(plan):
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_invalid_manifest_is_caught() -> None:
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
             "spec": {"replicas": "two"}},
            K8S_VERSION,
            strict=True,
        )  # fmt: skip


def test_grace_periods_exceed_drain_bounds(production_like: DeploymentPlan) -> None:
    documents = manifests(production_like)
    deployments = {d["metadata"]["name"]: d for d in by_kind(documents, "Deployment")}
    web = deployments["acme-shop"]["spec"]["template"]["spec"]
    worker = deployments["acme-shop-worker"]["spec"]["template"]["spec"]
    assert web["terminationGracePeriodSeconds"] > 7 + 40
    assert worker["terminationGracePeriodSeconds"] >= 90
    container = web["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert worker["containers"][0]["command"][:2] == ["rainmaker", "worker"]


def test_starter_has_no_worker_and_a_migration_job(starter: DeploymentPlan) -> None:
    documents = manifests(starter)
    kinds = [d["kind"] for d in documents]
    assert kinds.count("Deployment") == 1
    (job,) = by_kind(documents, "Job")
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:3] == ["rainmaker", "db", "upgrade"]
    assert {"Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret"} <= set(kinds)


def test_every_secret_has_a_secret_key_and_is_not_in_the_config_map(
    production_like: DeploymentPlan,
) -> None:
    documents = manifests(production_like)
    (config,) = by_kind(documents, "ConfigMap")
    (secret,) = by_kind(documents, "Secret")
    secret_keys = set(secret["stringData"])
    assert secret_keys == {
        "DATABASE_URL",
        "REDIS_PASSWORD",
        "JOBS_REDIS_URL",
        "S3_SECRET_KEY",
        "SMTP_PASSWORD",
        "RAINMAKER__FILES__ACCESS_KEY",  # a secret setting given literally
    }
    assert all(value == "" for value in secret["stringData"].values())  # a skeleton
    data = config["data"]
    assert not secret_keys & set(data)
    assert "AKIAEXAMPLELITERAL" not in kubernetes.render(production_like)
    assert not any(re.search(r"PASSWORD|SECRET|ACCESS_KEY", key) for key in data)
    # Non-secret settings the composition sets, and variables with a default:
    assert data["RAINMAKER__WEB__TITLE"] == "Acme"
    assert data["RAINMAKER__WEB__SHUTDOWN__TIMEOUT"] == "40.0"
    assert data["RAINMAKER__FILES__BUCKET"] == "acme-files"
    assert data["S3_ENDPOINT"] == "https://s3.eu-west-1.amazonaws.com"
    assert data["RAINMAKER_PROFILE"] == "production"


def test_rendering_is_deterministic(production_like: DeploymentPlan, tmp_path: Path) -> None:
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "rainmaker.toml").write_text(PRODUCTION_LIKE)
    again = plan_deployment(tmp_path / "again")
    for target in (dockerfile, compose, kubernetes):
        assert target.render(production_like) == target.render(again)


def test_cli_writes_each_target(tmp_path: Path) -> None:
    import typer

    from rainmaker.cli import deploy

    app = typer.Typer()
    deploy.register(app)

    @app.callback()
    def _root() -> None: ...

    for target, name in deploy.FILE_NAMES.items():
        app(
            ["deploy", "render", "--target", target.value, "--app", str(STARTER),
             "--out", str(tmp_path)],
            standalone_mode=False,
        )  # fmt: skip
        assert (tmp_path / name).read_text().startswith("# starter: generated by")
