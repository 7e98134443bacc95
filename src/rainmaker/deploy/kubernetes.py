"""Kubernetes manifests: web and worker Deployments, migration Job, Service, HPA, config.

- The web Deployment probes ``<health>/live`` (liveness) and ``<health>/ready``
  (readiness) and gets ``terminationGracePeriodSeconds`` above the HTTP pattern's drain
  bound (``shutdown.delay + shutdown.timeout``), so SIGKILL never cuts a drain short.
- The worker Deployment (when a jobs pattern is composed) gets a grace period above the
  jobs pattern's ``drain_timeout``.
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
    container["startupProbe"] = _probe(f"{plan.health_path}/live", period=2, failures=30)
    return _deployment(plan, "web", name, container, replicas=2, grace=plan.grace_period)


def _worker(plan: DeploymentPlan, image: str) -> dict[str, Any]:
    command = ["rainmaker", "worker", "--app", "/app", "--profile", plan.profile]
    container = _container(plan, "worker", image, command)
    return _deployment(
        plan, "worker", f"{plan.slug}-worker", container, replicas=1,
        grace=plan.worker_grace_period,
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
) -> dict[str, Any]:
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
                "metadata": {"labels": _selector(plan.slug, component)},
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


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
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
