"""Rendered deployments scrape and probe the worker on its own metrics port (issue 21).

A worker serves no HTTP of the app, so its job outcomes, queue depth and process figures
are only seen on the port the observability pattern gives it. The Kubernetes worker
Deployment and the compose worker service switch that port on, probe its health there and
carry the scrape annotations; the environment they set is checked against the real
settings by loading the composition with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from rainmaker.deploy import compose, kubernetes
from rainmaker.deploy.plan import WORKER_METRICS_PORT, DeploymentPlan, plan_deployment
from rainmaker.kernel.loading import load

OBSERVED = """
[app]
name = "observed"

[profiles.production.app]
log_format = "json"

[patterns.web]
use = "framework-fastapi"

[patterns.db]
use = "database-sqlite"

[patterns.jobs]
use = "jobs-local"

[patterns.observability]
use = "observability"
"""


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    (tmp_path / "rainmaker.toml").write_text(OBSERVED)
    return tmp_path


@pytest.fixture
def plan(app_folder: Path) -> DeploymentPlan:
    return plan_deployment(app_folder, profile="production")


def deployment(documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == name)


def test_worker_serves_metrics_and_is_probed_there(plan: DeploymentPlan) -> None:
    documents = list(yaml.safe_load_all(kubernetes.render(plan)))
    worker = deployment(documents, f"{plan.slug}-worker")["spec"]["template"]
    container = worker["spec"]["containers"][0]
    assert container["ports"] == [
        {"name": "metrics", "containerPort": WORKER_METRICS_PORT, "protocol": "TCP"}
    ]
    for probe, path in (
        ("livenessProbe", "/health/live"),
        ("readinessProbe", "/health/ready"),
        ("startupProbe", "/health/ready"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": "metrics"}
    assert worker["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(WORKER_METRICS_PORT),
        "prometheus.io/path": "/metrics",
    }
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["RAINMAKER__OBSERVABILITY__METRICS__WORKER_PORT"] == str(WORKER_METRICS_PORT)
    for document in documents:  # raises on a schema error
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_web_is_scraped_and_started_when_ready(plan: DeploymentPlan) -> None:
    documents = kubernetes.build(plan)
    web = deployment(documents, plan.slug)["spec"]["template"]
    assert web["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    assert web["metadata"]["annotations"]["prometheus.io/port"] == "8000"
    startup = web["spec"]["containers"][0]["startupProbe"]
    assert startup["httpGet"]["path"] == "/health/ready"  # not live: the app must be up


def test_compose_worker_publishes_and_checks_its_port(plan: DeploymentPlan) -> None:
    worker = compose.build(plan)["services"]["worker"]
    assert worker["ports"] == [f"{WORKER_METRICS_PORT}:{WORKER_METRICS_PORT}"]
    assert f"{WORKER_METRICS_PORT}/health/ready" in " ".join(worker["healthcheck"]["test"])
    assert worker["environment"]["RAINMAKER__OBSERVABILITY__METRICS__WORKER_HOST"] == "0.0.0.0"


def test_the_rendered_environment_sets_the_real_settings(
    app_folder: Path, plan: DeploymentPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in plan.worker_metrics_env.items():
        monkeypatch.setenv(name, value)
    application = load(app_folder, profile="production")
    metrics: Any = application.instances["observability"].settings.metrics
    assert metrics.worker_port == WORKER_METRICS_PORT
    assert metrics.worker_host == "0.0.0.0"


def test_the_compositions_own_port_wins(app_folder: Path) -> None:
    (app_folder / "rainmaker.toml").write_text(OBSERVED + "metrics = { worker_port = 9100 }\n")
    plan = plan_deployment(app_folder, profile="production")
    assert plan.worker_metrics_port == 9100


def test_no_worker_means_no_worker_port(tmp_path: Path) -> None:
    (tmp_path / "rainmaker.toml").write_text(OBSERVED.replace('use = "jobs-local"', "").replace(
        "[patterns.jobs]", ""))  # fmt: skip
    plan = plan_deployment(tmp_path, profile="production")
    assert plan.worker_metrics_port is None
    assert plan.metrics_path == "/metrics"
