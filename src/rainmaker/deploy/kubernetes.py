"""Kubernetes manifests: web and worker Deployments, migration Job, Service, HPA, config.

- The web Deployment probes ``<health>/live`` (liveness) and ``<health>/ready``
  (readiness) and gets ``terminationGracePeriodSeconds`` above the HTTP pattern's drain
  bound (``shutdown.delay + shutdown.timeout``), so SIGKILL never cuts a drain short.
  The startup probe waits for readiness (the app started, its patterns up), not liveness.
- The worker Deployment (when a jobs pattern is composed) gets a grace period above the
  jobs pattern's ``drain_timeout``. With ``observability`` composed it serves ``/metrics``
  and ``/health/*`` on its own port (``metrics.worker_port``, else 9464), which its probes
  use; both pods carry the ``prometheus.io/*`` scrape annotations.
- The migration Job runs ``rainmaker db upgrade`` (when a database pattern is composed);
  apply it and wait for it before rolling out the Deployments.
- The ConfigMap holds the profile and every non-secret setting the composition sets, as
  ``RAINMAKER__<INSTANCE>__<KEY>``, plus variables with a default; the Secret is a
  skeleton with one empty key per secret setting and per ``${VAR}`` without a default.
"""

from __future__ import annotations

from typing import Any

from rainmaker.deploy.dockerfile import USER_ID, run_command
from rainmaker.deploy.plan import PORT, DeploymentPlan
from rainmaker.deploy.yaml_text import dump_all


def build(plan: DeploymentPlan, *, image: str | None = None) -> list[dict[str, Any]]:
    """Every manifest, in the order to apply them."""
    image = image or f"{plan.slug}:latest"
    name = plan.slug
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _metadata(f"{name}-config", name, "config"),
            "data": {var.name: var.value for var in plan.config},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _metadata(f"{name}-secrets", name, "config"),
            "type": "Opaque",
            "stringData": {var.name: var.value for var in plan.secrets},
        },
    ]
    if plan.migrates:
        documents.append(_migration_job(plan, image))
    documents.append(_web(plan, image))
    documents.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _metadata(name, name, "web"),
            "spec": {
                "type": "ClusterIP",
                "selector": _selector(name, "web"),
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        }
    )
    documents.append(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": _metadata(name, name, "web"),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        }
    )
    if plan.jobs_instance is not None:
        documents.append(_worker(plan, image))
    return documents


def _web(plan: DeploymentPlan, image: str) -> dict[str, Any]:
    name = plan.slug
    container = _container(plan, "web", image, run_command(plan))
    container["ports"] = [{"name": "http", "containerPort": PORT, "protocol": "TCP"}]
    container["livenessProbe"] = _probe(f"{plan.health_path}/live", period=10, failures=3)
    container["readinessProbe"] = _probe(f"{plan.health_path}/ready", period=5, failures=1)
    container["startupProbe"] = _probe(f"{plan.health_path}/ready", period=2, failures=30)
    scrape = _scrape(PORT, plan.metrics_path) if plan.metrics_path else None
    return _deployment(
        plan, "web", name, container, replicas=2, grace=plan.grace_period, annotations=scrape
    )


def _worker(plan: DeploymentPlan, image: str) -> dict[str, Any]:
    command = ["rainmaker", "worker", "--app", "/app", "--profile", plan.profile]
    container = _container(plan, "worker", image, command)
    port = plan.worker_metrics_port
    if port is not None:
        container["env"] = [
            *container.get("env", []),
            *({"name": k, "value": v} for k, v in plan.worker_metrics_env.items()),
        ]
        container["ports"] = [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
        container["livenessProbe"] = _probe("/health/live", period=10, failures=3, port="metrics")
        container["readinessProbe"] = _probe("/health/ready", period=5, failures=1, port="metrics")
        container["startupProbe"] = _probe("/health/ready", period=2, failures=30, port="metrics")
    return _deployment(
        plan, "worker", f"{plan.slug}-worker", container, replicas=1,
        grace=plan.worker_grace_period,
        annotations=_scrape(port, "/metrics") if port is not None else None,
    )  # fmt: skip


def _migration_job(plan: DeploymentPlan, image: str) -> dict[str, Any]:
    command = ["rainmaker", "db", "upgrade", "--app", "/app", "--profile", plan.profile]
    container = _container(plan, "migrate", image, command)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(f"{plan.slug}-migrate", plan.slug, "migrate"),
        "spec": {
            "backoffLimit": 3,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": _selector(plan.slug, "migrate")},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": _pod_security(),
                    "containers": [container],
                },
            },
        },
    }


def _deployment(
    plan: DeploymentPlan,
    component: str,
    name: str,
    container: dict[str, Any],
    *,
    replicas: int,
    grace: int,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    pod_metadata: dict[str, Any] = {"labels": _selector(plan.slug, component)}
    if annotations:
        pod_metadata["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(name, plan.slug, component),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": _selector(plan.slug, component)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": pod_metadata,
                "spec": {
                    "terminationGracePeriodSeconds": grace,
                    "securityContext": _pod_security(),
                    "containers": [container],
                },
            },
        },
    }


def _container(plan: DeploymentPlan, name: str, image: str, command: list[str]) -> dict[str, Any]:
    # Only the migrate Job migrates: web and worker pods get auto_migrate switched off
    # (an env entry wins over envFrom), whatever the profile says.
    env = (
        [{"name": key, "value": value} for key, value in plan.no_auto_migrate.items()]
        if name != "migrate" and plan.migrates
        else []
    )
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "envFrom": [
            {"configMapRef": {"name": f"{plan.slug}-config"}},
            {"secretRef": {"name": f"{plan.slug}-secrets"}},
        ],
        **({"env": env} if env else {}),
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def _probe(path: str, *, period: int, failures: int, port: str = "http") -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _scrape(port: int, path: str) -> dict[str, str]:
    """The ``prometheus.io/*`` annotations Prometheus' usual pod discovery config reads."""
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": path,
    }


def _pod_security() -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": USER_ID, "runAsGroup": USER_ID}


def _metadata(name: str, app: str, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/managed-by": "rainmaker",
        },
    }


def _selector(app: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/component": component}


def render(plan: DeploymentPlan, *, image: str | None = None) -> str:
    """The manifests as one multi-document YAML text."""
    header = f"# {plan.app}: generated by `rainmaker deploy render --target kubernetes`\n"
    return header + dump_all(build(plan, image=image))
