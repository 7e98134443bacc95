"""A pattern whose routes know nothing about API keys: only ``rainmaker.http``'s guards."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

import rainmaker
from rainmaker.capabilities.auth import Auth
from rainmaker.http import CurrentUser, Identity, OptionalUser, require_roles, require_scopes

router = APIRouter()


@router.get("/me")
async def me(user: CurrentUser) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "scopes": list(user.scopes)}


@router.get("/maybe")
async def maybe(user: OptionalUser) -> dict[str, Any]:
    return {"id": user.id if user is not None else None}


@router.post("/things", status_code=201, dependencies=[require_scopes("projects:write")])
async def create_thing(identity: Identity) -> dict[str, Any]:
    return {"owner": identity.user_id}


@router.get("/admin", dependencies=[require_roles("admin")])
async def admin() -> dict[str, bool]:
    return {"admin": True}


class ThingsSettings(rainmaker.Settings):
    """Nothing to set."""


class ThingsModule(rainmaker.Module[ThingsSettings]):
    """Contributes the router."""

    def router(self) -> APIRouter:
        return router


things = rainmaker.Pattern(
    id="things",
    version="0.1.0",
    name="Things",
    settings=ThingsSettings,
    factory=ThingsModule,
    requires=[Auth],
    mount="/t",
)
