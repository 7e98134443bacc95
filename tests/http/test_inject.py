"""``Inject``, ``PatternSettings`` and route ownership, through a real composed app.

The ``notes`` pattern's routes are module-level and its module uses ``from __future__
import annotations`` (body model included): every request below goes through the
composed app the way `rainmaker run` serves it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from rainmaker.capabilities import Database
from rainmaker.http import Inject, RouteOwner, RouteOwners
from tests.http.conftest import AUTH, Serve, load_quietly, write_app

ONE_DB = (
    AUTH
    + """
[patterns.db]
use = "database-sqlite"
path = "notes.db"

[patterns.notes]
use = "notes"
label = "only"
"""
)

TWO_INSTANCES = (
    AUTH
    + """
providers = { Database = "db1" }

[patterns.db1]
use = "database-sqlite"
path = "one.db"

[patterns.db2]
use = "database-sqlite"
path = "two.db"

[patterns.first]
use = "notes"
mount = "/first"
label = "first label"
providers = { Database = "db1" }

[patterns.second]
use = "notes"
mount = "/second"
label = "second label"
providers = { Database = "db2" }
"""
)


async def test_inject_and_pattern_settings_resolve_for_the_route_owner(serve: Serve) -> None:
    _, client = await serve(ONE_DB)
    answer = await client.get("/notes/where")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"label": "only", "database": "db", "one": 1}


async def test_two_instances_of_one_pattern_each_get_their_own_services_and_settings(
    serve: Serve,
) -> None:
    # Both instances return the same module-level router object.
    app, client = await serve(TWO_INSTANCES)
    first = await client.get("/first/where")
    second = await client.get("/second/where")
    assert first.json() == {"label": "first label", "database": "db1", "one": 1}
    assert second.json() == {"label": "second label", "database": "db2", "one": 1}
    rows = {row.path: row.instance for row in app.http_module().routes()}  # type: ignore[attr-defined]
    assert rows["/first/where"] == "first"
    assert rows["/second/where"] == "second"


async def test_an_optional_capability_that_is_not_composed_answers_503_naming_it(
    serve: Serve,
) -> None:
    _, client = await serve(ONE_DB)
    answer = await client.get("/notes/mail")
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["status"] == 503
    assert "Mailer" in body["detail"]
    # The installed patterns that provide it are the fix.
    assert "email-console" in body["detail"], body["detail"]
    assert body["pattern"] == "notes"


def test_inject_refuses_what_is_not_a_capability() -> None:
    try:
        Inject("Database")  # type: ignore[arg-type]
    except TypeError as exc:
        assert "rainmaker.Capability" in str(exc)
    else:
        raise AssertionError("Inject accepted a string")


def test_one_route_object_with_two_owners_is_told_apart_by_path(tmp_path: Path) -> None:
    app = load_quietly(write_app(tmp_path, TWO_INSTANCES))
    composed = app.http_module().compose()  # type: ignore[attr-defined]
    owners: RouteOwners = composed.route_owners
    router = app.modules()["first"].router()
    assert isinstance(router, APIRouter)
    where = next(r for r in router.routes if getattr(r, "path", "") == "/where")
    first = owners.owner(where, "/first/where")
    second = owners.owner(where, "/second/where")
    assert isinstance(first, RouteOwner) and isinstance(second, RouteOwner)
    assert (first.instance, second.instance) == ("first", "second")
    assert first.services.get(Database) is None  # not started: nothing registered yet
