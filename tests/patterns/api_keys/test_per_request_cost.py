"""What a key-authenticated request costs the database, and what it still records.

A key's lookup, the write of its last use and its owner's read share one unit of work (one
connection checkout), the last use is written at most once per ``touch_interval`` and is
listed with its address, and a revoke counts from the very next request.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from rainmaker.capabilities.database import Database
from tests.patterns.api_keys.apps.things import things
from tests.patterns.api_keys.conftest import KeysApp, MakeApp


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def database_activity(keys: KeysApp) -> Iterator[dict[str, int]]:
    """Counts of connection checkouts and of UPDATE statements while the block runs."""
    counts = {"checkouts": 0, "updates": 0}
    engine = keys.app.services.require(Database).engine.sync_engine

    def checkout(*_args: Any) -> None:
        counts["checkouts"] += 1

    def statement(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        if sql.lstrip().upper().startswith("UPDATE"):
            counts["updates"] += 1

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield counts
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "before_cursor_execute", statement)


async def listed(keys: KeysApp, owner: dict[str, str], key_id: str) -> dict[str, Any]:
    answer = await keys.client.get("/api-keys", headers=owner)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = next(k for k in answer.json()["api_keys"] if k["id"] == key_id)
    return found


async def test_a_key_and_its_owner_are_read_in_one_unit_of_work(make_app: MakeApp) -> None:
    keys = await make_app(extra={"things": {"use": "things"}}, local=[things])
    email = f"ada-{uuid.uuid4().hex[:10]}@example.com"  # the database outlives the test
    ada = await keys.token(email)
    key = (await keys.new_key(ada, scopes=["projects:read"]))["key"]
    for _ in range(2):  # the first use writes the last use, the second does not
        with database_activity(keys) as counts:
            me = await keys.client.get("/t/me", headers=bearer(key))
        assert me.status_code == 200, me.text
        assert me.json()["email"] == email
        assert counts["checkouts"] == 1, counts


async def test_the_last_use_is_listed_and_written_once_per_interval(make_app: MakeApp) -> None:
    keys = await make_app(extra={"things": {"use": "things"}}, local=[things])
    ada = await keys.token()
    created = await keys.new_key(ada, scopes=["projects:read"])
    before = await listed(keys, ada, created["id"])
    assert before["last_used_at"] is None and before["last_used_from"] is None
    with database_activity(keys) as first:
        assert (await keys.client.get("/t/me", headers=bearer(created["key"]))).status_code == 200
    used = await listed(keys, ada, created["id"])
    assert used["last_used_at"] is not None
    assert used["last_used_from"] == "127.0.0.1"  # httpx's ASGI transport's client address
    assert first["updates"] == 1
    # Within touch_interval (60 s by default) a use writes nothing and the list stays.
    with database_activity(keys) as again:
        for _ in range(3):
            answer = await keys.client.get("/t/me", headers=bearer(created["key"]))
            assert answer.status_code == 200, answer.text
    assert again["updates"] == 0
    assert (await listed(keys, ada, created["id"]))["last_used_at"] == used["last_used_at"]


async def test_with_no_interval_every_use_is_written(make_app: MakeApp) -> None:
    keys = await make_app(
        keys={"touch_interval": 0}, extra={"things": {"use": "things"}}, local=[things]
    )
    ada = await keys.token()
    key = (await keys.new_key(ada, scopes=["projects:read"]))["key"]
    with database_activity(keys) as counts:
        for _ in range(3):
            assert (await keys.client.get("/t/me", headers=bearer(key))).status_code == 200
    assert counts["updates"] == 3


async def test_a_revoke_counts_from_the_next_request(make_app: MakeApp) -> None:
    keys = await make_app(extra={"things": {"use": "things"}}, local=[things])
    ada = await keys.token()
    created = await keys.new_key(ada, scopes=["projects:read"])
    assert (await keys.client.get("/t/me", headers=bearer(created["key"]))).status_code == 200
    revoke = await keys.client.delete(f"/api-keys/{created['id']}", headers=ada)
    assert revoke.status_code == 204
    answer = await keys.client.get("/t/me", headers=bearer(created["key"]))
    assert answer.status_code == 401 and answer.json()["code"] == "api_key_revoked"
