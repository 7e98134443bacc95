"""A compose file: the app, its worker and migrations, and the servers the profile needs.

Servers follow the patterns composed (PostgreSQL, Redis, RabbitMQ, MinIO for S3, Mailpit
for SMTP). Every ``${VAR}`` the composition references is set for the app's containers:
to the compose server's address when the setting it feeds is a known server setting
(``database-postgres`` url -> the postgres service, and so on), else passed through from
the shell or ``.env`` as compose's own ``${VAR}``. Development credentials only: this
file is for running the production profile locally, not for production.
"""

from __future__ import annotations

from typing import Any

from rainmaker.deploy.dockerfile import run_command
from rainmaker.deploy.plan import PORT, DeploymentPlan
from rainmaker.deploy.yaml_text import dump

SERVER_SERVICES: dict[str, dict[str, Any]] = {
    "postgres": {
        "image": "postgres:16-alpine",
        "environment": {"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "app", "POSTGRES_DB": "app"},
        "volumes": ["postgres-data:/var/lib/postgresql/data"],
        "healthcheck": {
            "test": ["CMD-SHELL", "pg_isready -U app -d app"],
            "interval": "5s",
            "timeout": "3s",
            "retries": 10,
        },
    },
    "redis": {
        "image": "redis:7-alpine",
        "healthcheck": {
            "test": ["CMD", "redis-cli", "ping"],
            "interval": "5s",
            "timeout": "3s",
            "retries": 10,
        },
    },
    "rabbitmq": {
        "image": "rabbitmq:3.13-management-alpine",
        "healthcheck": {
            "test": ["CMD", "rabbitmq-diagnostics", "-q", "ping"],
            "interval": "10s",
            "timeout": "5s",
            "retries": 10,
        },
    },
    "s3": {
        "image": "minio/minio:latest",
        "command": ["server", "/data"],
        "environment": {"MINIO_ROOT_USER": "minioadmin", "MINIO_ROOT_PASSWORD": "minioadmin"},
        "volumes": ["s3-data:/data"],
        "healthcheck": {
            "test": ["CMD", "mc", "ready", "local"],
            "interval": "5s",
            "timeout": "3s",
            "retries": 10,
        },
    },
    "smtp": {"image": "axllent/mailpit:latest", "ports": ["8025:8025"]},
}

# (pattern id, setting) -> the value pointing at the compose server.
SERVER_SETTINGS: dict[tuple[str, str], str] = {
    ("database-postgres", "url"): "postgresql://app:app@postgres:5432/app",
    ("cache-redis", "url"): "redis://redis:6379/0",
    ("jobs-redis", "url"): "redis://redis:6379/1",
    ("jobs-rabbitmq", "url"): "amqp://guest:guest@rabbitmq:5672/",
    ("storage-s3", "endpoint_url"): "http://s3:9000",
    ("storage-s3", "access_key"): "minioadmin",
    ("storage-s3", "secret_key"): "minioadmin",
    ("email-smtp", "host"): "smtp",
    ("email-smtp", "port"): "1025",
}
VOLUMES = {"postgres": "postgres-data", "s3": "s3-data"}


def build(plan: DeploymentPlan, *, image: str | None = None) -> dict[str, Any]:
    """The compose file as data."""
    image = image or f"{plan.slug}:latest"
    environment = _environment(plan)
    waits = {
        server: {
            "condition": "service_healthy"
            if "healthcheck" in SERVER_SERVICES[server]
            else "service_started"
        }
        for server in plan.servers
    }
    services: dict[str, Any] = {}
    app_base: dict[str, Any] = {"image": image, "environment": environment}
    if plan.migrates:
        services["migrate"] = {
            **app_base,
            "build": ".",
            "command": ["rainmaker", "db", "upgrade", "--app", "/app", "--profile", plan.profile],
            "restart": "no",
            **({"depends_on": waits} if waits else {}),
        }
    after_migrate = dict(waits)
    if plan.migrates:
        after_migrate["migrate"] = {"condition": "service_completed_successfully"}
    # Only the migrate service migrates: web and worker get auto_migrate switched off.
    long_running = (
        {**app_base, "environment": {**environment, **plan.no_auto_migrate}}
        if plan.migrates
        else app_base
    )
    web: dict[str, Any] = {
        **long_running,
        "command": run_command(plan),
        "ports": [f"{PORT}:{PORT}"],
        "stop_grace_period": f"{plan.grace_period}s",
        **({"depends_on": after_migrate} if after_migrate else {}),
    }
    if not plan.migrates:
        web["build"] = "."
    services["web"] = web
    if plan.jobs_instance is not None:
        worker: dict[str, Any] = {
            **long_running,
            "command": ["rainmaker", "worker", "--app", "/app", "--profile", plan.profile],
            "stop_grace_period": f"{plan.worker_grace_period}s",
            **({"depends_on": after_migrate} if after_migrate else {}),
        }
        if plan.worker_metrics_port is not None:
            port = plan.worker_metrics_port
            worker["environment"] = {**worker["environment"], **plan.worker_metrics_env}
            worker["ports"] = [f"{port}:{port}"]
            worker["healthcheck"] = _http_check(f"http://127.0.0.1:{port}/health/ready")
        services["worker"] = worker
    for server in plan.servers:
        services[server] = SERVER_SERVICES[server]
    document: dict[str, Any] = {"name": plan.slug, "services": services}
    volumes = [VOLUMES[s] for s in plan.servers if s in VOLUMES]
    if volumes:
        document["volumes"] = {volume: {} for volume in volumes}
    return document


def _http_check(url: str) -> dict[str, Any]:
    """A healthcheck the app image can run: it has Python, not necessarily curl."""
    probe = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=3)"
    return {
        "test": ["CMD", "python", "-c", probe],
        "interval": "10s",
        "timeout": "5s",
        "retries": 3,
    }


def _environment(plan: DeploymentPlan) -> dict[str, str]:
    environment = {var.name: var.value for var in plan.config}
    for variable in plan.secrets:
        environment[variable.name] = _value_for(plan, variable.name)
    return environment


def _value_for(plan: DeploymentPlan, variable: str) -> str:
    where = plan.variables.get(variable)
    if where is not None:
        _instance, pattern, setting = where
        value = SERVER_SETTINGS.get((pattern, setting))
        if value is not None:
            return value
    return "${" + variable + "}"


def render(plan: DeploymentPlan, *, image: str | None = None) -> str:
    """The compose file text."""
    header = f"# {plan.app}: generated by `rainmaker deploy render --target compose`\n"
    return header + dump(build(plan, image=image))
