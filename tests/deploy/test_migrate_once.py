"""Rendered deployments migrate in one place only: the Job (Kubernetes) or the ``migrate``
service (compose). Web and worker processes get ``auto_migrate`` switched off through their
environment, whatever the profile says, so replicas starting together on a first deploy
never race the Job (they wait for readiness instead: 503 while the schema is behind)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from rainmaker.deploy import compose, kubernetes
from rainmaker.deploy.plan import plan_deployment

SAAS = Path(__file__).parents[2] / "examples" / "saas"
GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "going-to-production.md"
OFF = {"name": "RAINMAKER__DB__AUTO_MIGRATE", "value": "false"}

AUTO_MIGRATING = """
[app]
name = "racer"

[patterns.web]
use = "framework-fastapi"

[patterns.db]
use = "database-sqlite"

[patterns.jobs]
use = "jobs-local"

[profiles.production.patterns.db]
use = "database-postgres"
url = "${DATABASE_URL}"
auto_migrate = true
"""


def containers(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Container by name (web, worker, migrate) across the Deployments and the Job."""
    found = {}
    for document in documents:
        if document["kind"] in ("Deployment", "Job"):
            for container in document["spec"]["template"]["spec"]["containers"]:
                found[container["name"]] = container
    return found


def test_kubernetes_web_and_worker_never_migrate(tmp_path: Path) -> None:
    (tmp_path / "rainmaker.toml").write_text(AUTO_MIGRATING)
    plan = plan_deployment(tmp_path, profile="production")
    documents = list(yaml.safe_load_all(kubernetes.render(plan)))
    found = containers(documents)
    assert set(found) == {"web", "worker", "migrate"}
    assert OFF in found["web"]["env"]
    assert OFF in found["worker"]["env"]
    assert "env" not in found["migrate"]  # the Job migrates, as the profile says
    assert found["migrate"]["command"][:3] == ["rainmaker", "db", "upgrade"]


def test_compose_web_and_worker_never_migrate(tmp_path: Path) -> None:
    (tmp_path / "rainmaker.toml").write_text(AUTO_MIGRATING)
    services = yaml.safe_load(compose.render(plan_deployment(tmp_path)))["services"]
    for name in ("web", "worker"):
        assert services[name]["environment"]["RAINMAKER__DB__AUTO_MIGRATE"] == "false"
    # the migrate service keeps what the profile says (it runs `db upgrade` either way)
    assert services["migrate"]["environment"].get("RAINMAKER__DB__AUTO_MIGRATE") != "false"


def test_the_demo_renders_one_migration_place() -> None:
    found = containers(kubernetes.build(plan_deployment(SAAS, profile="production")))
    assert OFF in found["web"]["env"] and OFF in found["worker"]["env"]
    assert "env" not in found["migrate"]


def test_the_demo_production_profile_follows_the_guide() -> None:
    composition = tomllib.loads((SAAS / "rainmaker.toml").read_text())
    db = composition["profiles"]["production"]["patterns"]["db"]
    assert db["use"] == "database-postgres"
    assert db.get("auto_migrate", False) is False
    assert "auto_migrate = false" in GUIDE.read_text()


def test_the_demo_renders_without_its_development_secret() -> None:
    """The production profile's `${JWT_SECRET}` has no default: the Secret asks for it,
    and the base section's development default is never rendered."""
    plan = plan_deployment(SAAS, profile="production")
    text = kubernetes.render(plan)
    assert "dev-only-secret" not in text
    assert [v.value for v in plan.secrets if v.name == "JWT_SECRET"] == [""]
