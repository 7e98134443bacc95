"""Race-free plan limits (issue 22, finding 4): 50 concurrent ``POST /projects`` at the demo,
spread over two ``rainmaker run`` processes, from one organization whose plan allows
``LIMIT`` projects — on PostgreSQL and on MariaDB — create exactly ``LIMIT`` projects.

Before the demo took ``db.lock`` on the organization around "count, then insert", every
request counted the same number and 20 concurrent creates from a free user (limit 1) made
2 projects in 3 of 5 trials on PostgreSQL. Each refusal must be the plan's 403
problem+json, never a 500 or a lock timeout.

The app is a copy of ``examples/saas`` with one profile per server (the database and a
lower free-plan limit) appended; everything else is its embedded defaults.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rainmaker.testing.servers import require_server
from tests.e2e.conftest import APP, SaasProcesses, saas_processes
from tests.proof.conftest import Figures
from tests.proof.flows import login, verified_user

REQUESTS = 50
LIMIT = 7
PROFILES = """

# -- quota proof (added by tests/proof/test_7_quota.py) ------------------------------------

[profiles.quota.patterns.db]
use = "{pattern}"
url = "${{DATABASE_URL}}"

[profiles.quota.patterns.projects]
use = "projects"
limits = {{ free = {limit}, pro = 10 }}
"""


def _postgres() -> Iterator[tuple[str, str]]:
    from tests.patterns.database.conftest import (
        PG_HOST,
        PG_PORT,
        create_pg_database,
        drop_pg_database,
        pg_url,
    )

    require_server("PostgreSQL", PG_HOST, PG_PORT)
    name = create_pg_database()
    try:
        yield "database-postgres", pg_url(name)
    finally:
        drop_pg_database(name)


def _mariadb() -> Iterator[tuple[str, str]]:
    from rainmaker.testing.plugin import DEFAULT_MYSQL_URL, MYSQL_URL_VARIABLE, backend_url
    from tests.patterns.database.mysql_databases import (
        create_mysql_database,
        drop_mysql_database,
        mysql_database_url,
    )

    server = backend_url(MYSQL_URL_VARIABLE, DEFAULT_MYSQL_URL, "MySQL/MariaDB", 3306)
    name = create_mysql_database(server)
    try:
        yield "database-mysql", mysql_database_url(server, name)
    finally:
        drop_mysql_database(server, name)


@pytest.fixture(params=["postgres", "mariadb"])
def server_database(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(database pattern, URL of a fresh database) on the server the test is for."""
    yield from (_postgres() if request.param == "postgres" else _mariadb())


@pytest.fixture
def quota_app(tmp_path: Path, server_database: tuple[str, str]) -> Iterator[SaasProcesses]:
    pattern, url = server_database
    root = tmp_path / "saas"
    shutil.copytree(APP, root, ignore=shutil.ignore_patterns("var", "__pycache__"))
    toml = root / "rainmaker.toml"
    toml.write_text(toml.read_text() + PROFILES.format(pattern=pattern, limit=LIMIT))
    env = {
        "DATABASE_URL": url,
        "SAAS_OUTBOX": str(tmp_path / "outbox"),
        "SAAS_STORAGE_ROOT": str(tmp_path / "storage"),
        "SAAS_DB_PATH": str(tmp_path / "unused.db"),
    }
    with saas_processes("quota", env, tmp_path / "logs", app=root, webs=2) as running:
        yield running


def test_concurrent_creates_stop_exactly_at_the_plan_limit(
    quota_app: SaasProcesses, figures: Figures, server_database: tuple[str, str], tmp_path: Path
) -> None:
    urls = quota_app.base_urls
    email = verified_user(urls[0], tmp_path / "outbox")
    answer = login(urls[0], email)
    assert answer.status_code == 200, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    async def fire() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=REQUESTS)
        async with httpx.AsyncClient(timeout=60, headers=headers, limits=limits) as client:
            return await asyncio.gather(
                *(
                    client.post(f"{urls[n % len(urls)]}/projects", json={"name": f"p{n}"})
                    for n in range(REQUESTS)
                )
            )

    answers = asyncio.run(fire())
    statuses = sorted(answer.status_code for answer in answers)
    refused = [a for a in answers if a.status_code == 403]
    try:
        assert statuses.count(201) == LIMIT, statuses
        assert len(refused) == REQUESTS - LIMIT, statuses
        assert {a.json()["code"] for a in refused} == {"projects_plan_limit"}
        assert all(
            a.headers["content-type"].startswith("application/problem+json") for a in refused
        )
        # What the database holds, read back through both processes.
        for url in urls:
            listed = httpx.get(f"{url}/projects", headers=headers, timeout=20).json()
            assert len(listed["projects"]) == LIMIT
            account = httpx.get(f"{url}/projects/account", headers=headers, timeout=20).json()
            assert (account["used"], account["limit"]) == (LIMIT, LIMIT)
    except AssertionError:
        print(quota_app.log_tail())
        raise
    figures.record(
        f"quota_{server_database[0]}",
        requests=REQUESTS,
        limit=LIMIT,
        created=statuses.count(201),
        refused=len(refused),
    )
