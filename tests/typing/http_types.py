"""Checked by mypy (``make typecheck``), not run: ``rainmaker.http`` parameters have real types.

The module uses ``from __future__ import annotations``, as app code does: the aliases and
``Annotated[..., Inject(...)]`` must still give handlers the interface types.
"""

from __future__ import annotations

from typing import Annotated, assert_type

from fastapi import APIRouter

from rainmaker import Capability, Settings
from rainmaker.capabilities import Database, SqlDatabase
from rainmaker.capabilities.auth import Identity as TokenIdentity
from rainmaker.capabilities.auth import User
from rainmaker.http import (
    CurrentUser,
    Identity,
    Inject,
    OptionalUser,
    PatternSettings,
    require_roles,
    require_scopes,
)


class Greeter:
    def greet(self, name: str) -> str:
        return f"hello {name}"


GreeterCap: Capability[Greeter] = Capability("Greeter", Greeter)


class GreeterSettings(Settings):
    greeting: str = "hello"


router = APIRouter()


@router.get("/typed", dependencies=[require_roles("admin"), require_scopes("a:read")])
async def typed(
    user: CurrentUser,
    maybe: OptionalUser,
    identity: Identity,
    db: Annotated[SqlDatabase, Inject(Database)],
    greeter: Annotated[Greeter, Inject(GreeterCap)],
    settings: Annotated[GreeterSettings, PatternSettings(GreeterSettings)],
    admin: Annotated[TokenIdentity, require_roles("admin")],
) -> str:
    assert_type(user, User)
    assert_type(maybe, User | None)
    assert_type(identity, TokenIdentity)
    assert_type(db, SqlDatabase)
    assert_type(greeter, Greeter)
    assert_type(settings, GreeterSettings)
    assert_type(admin, TokenIdentity)
    assert_type(user.email, str)
    assert_type(identity.roles, frozenset[str])
    _ = user.no_such_attribute  # type: ignore[attr-defined]
    return greeter.greet(settings.greeting) + str(db.instance)
