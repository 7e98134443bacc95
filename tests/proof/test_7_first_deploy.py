"""Proof 7: the first deploy of the rendered Kubernetes output starts cleanly (issue 22).

On a first deploy every pod starts at once on an empty database: the migration Job, the
web Deployment's replicas and the worker. This proof renders the demo's manifests for its
production profile, builds each container's environment the way Kubernetes would (the
ConfigMap and the Secret through ``envFrom``, then the container's own ``env``, which
wins) and starts the migration Job, three web replicas and the worker at the same moment,
each with the command the manifests give it (only the host, port and app folder changed
to this machine's loopback and checkout).

It passes when the Job exits 0, all three replicas answer ``/health/ready`` 200 (they
answer 503 until the Job has brought the schema to head, and must not crash meanwhile),
the worker runs, no process exits and no log holds a traceback.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from rainmaker.deploy import kubernetes
from rainmaker.deploy.plan import PORT, plan_deployment
from rainmaker.testing.smtp_server import free_port
from tests.e2e.conftest import APP, RAINMAKER, REPO, STOP_TIMEOUT, _environment, _stop

REPLICAS = 3
READY_WITHIN = 90.0  # seconds; a bound on a hang, not a speed figure


def rendered_environment(
    documents: list[dict[str, Any]], container: dict[str, Any]
) -> dict[str, str]:
    """What a container's process sees: ``envFrom`` sources in order, then ``env``."""
    by_name = {d["metadata"]["name"]: d for d in documents if d["kind"] in ("ConfigMap", "Secret")}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or source.get("secretRef")
        document = by_name[ref["name"]]
        env.update(document.get("data") or document.get("stringData") or {})
    env.update({item["name"]: item["value"] for item in container.get("env", [])})
    return env


def local_command(command: list[str], *, port: int | None = None) -> list[str]:
    """The manifest's command, run from this checkout on loopback."""
    replaced = {"/app": str(APP), "0.0.0.0": "127.0.0.1", str(PORT): str(port or PORT)}
    head = command[1:] if command[0] == "rainmaker" else command
    return [*RAINMAKER, *(replaced.get(part, part) for part in head)]


@pytest.fixture
def production_servers(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Every server the demo's production profile reaches, on loopback, and its secrets."""
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
    try:
        s3_context = seaweedfs()
        s3 = s3_context.__enter__()
    except S3ServerUnavailable as error:
        if in_ci():
            pytest.fail(str(error))
        pytest.skip(str(error))
    database = create_pg_database()  # fresh: the first deploy
    prefix = f"first-deploy-{secrets.token_hex(4)}"
    try:
        with smtp_server() as smtp, stripe_server() as localstripe:
            yield {
                "DATABASE_URL": pg_url(database),
                "REDIS_URL": "redis://127.0.0.1:6379/0",
                "RAINMAKER__CACHE__KEY_PREFIX": prefix,
                "RAINMAKER__JOBS__KEY_PREFIX": f"{prefix}.jobs",
                "JWT_SECRET": secrets.token_urlsafe(40),
                "S3_ENDPOINT_URL": s3.endpoint_url,
                "S3_BUCKET": "first-deploy",
                "S3_ACCESS_KEY": s3.access_key,
                "S3_SECRET_KEY": s3.secret_key,
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(smtp.port),
                "SMTP_SECURITY": "none",
                "STRIPE_API_KEY": API_KEY,
                "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(32),
                "STRIPE_API_BASE": localstripe.url,
            }
    finally:
        drop_pg_database(database)
        s3_context.__exit__(None, None, None)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.s3
@pytest.mark.smtp
def test_three_replicas_the_job_and_the_worker_start_together_on_a_fresh_database(
    tmp_path: Path, production_servers: dict[str, str]
) -> None:
    plan = plan_deployment(APP, profile="production")
    documents = kubernetes.build(plan)
    assert documents == list(yaml.safe_load_all(kubernetes.render(plan)))
    containers = {
        c["name"]: c
        for d in documents
        if d["kind"] in ("Deployment", "Job")
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    web_replicas = next(d for d in documents if d["kind"] == "Deployment" and
                        d["metadata"]["name"] == plan.slug)["spec"]["replicas"]  # fmt: skip
    assert web_replicas >= 2  # the manifests really do race replicas on a first deploy

    def environment(name: str) -> dict[str, str]:
        rendered = rendered_environment(documents, containers[name])
        # The Secret is a skeleton of empty keys: fill it as an operator would.
        filled = {k: production_servers.get(k, v) for k, v in rendered.items()}
        missing = sorted(k for k, v in filled.items() if v == "" and k in plan_secret_names)
        assert not missing, f"secrets the test does not supply: {missing}"
        extra = {k: v for k, v in production_servers.items() if k.startswith("RAINMAKER__")}
        return _environment({**filled, **extra})

    plan_secret_names = {var.name for var in plan.secrets if var.name not in OPTIONAL_SECRETS}
    logs = tmp_path / "logs"
    logs.mkdir()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    ports = [free_port() for _ in range(REPLICAS)]

    def start(name: str, container: str, command: list[str]) -> None:
        out = open(logs / f"{name}.log", "wb")
        processes[name] = subprocess.Popen(
            command, cwd=REPO, env=environment(container), stdout=out, stderr=subprocess.STDOUT
        )
        out.close()

    try:
        start("migrate", "migrate", local_command(containers["migrate"]["command"]))
        for index, port in enumerate(ports):
            start(f"web-{index}", "web", local_command(containers["web"]["command"], port=port))
        start("worker", "worker", local_command(containers["worker"]["command"]))

        ready: set[int] = set()
        deadline = time.monotonic() + READY_WITHIN
        while len(ready) < REPLICAS and time.monotonic() < deadline:
            for name, process in processes.items():
                code = process.poll()
                if code is not None and not (name == "migrate" and code == 0):
                    pytest.fail(f"{name} exited with {code}:\n{tails(logs)}")
            for port in set(ports) - ready:
                try:
                    answer = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
                except httpx.TransportError:
                    continue
                if answer.status_code == 200:
                    ready.add(port)
            time.sleep(0.2)
        assert len(ready) == REPLICAS, f"ready: {len(ready)} of {REPLICAS}\n{tails(logs)}"
        assert processes["migrate"].wait(STOP_TIMEOUT) == 0, tails(logs)
        assert processes["worker"].poll() is None, tails(logs)
    finally:
        _stop(list(processes.values()))
    for path in logs.iterdir():
        assert "Traceback" not in path.read_text(errors="replace"), tails(logs)


# Secrets the demo leaves optional (an empty value is a valid setting).
OPTIONAL_SECRETS = {"SMTP_PASSWORD", "SMTP_USERNAME"}


def tails(logs: Path, lines: int = 30) -> str:
    parts = []
    for path in sorted(logs.iterdir()):
        text = path.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {path.stem} ---\n" + "\n".join(text))
    return "\n".join(parts)
