"""A test pattern written the way app code is: a module-level router, typed injection.

``from __future__ import annotations`` on purpose: every annotation below is a string that
FastAPI resolves from this module's globals (the request body included).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import text

import rainmaker
from rainmaker.capabilities import Database, Mailer
from rainmaker.capabilities.auth import Identity as TokenIdentity
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.mailer import MailSender
from rainmaker.http import (
    CurrentUser,
    Identity,
    Inject,
    OptionalUser,
    PatternSettings,
    require_roles,
    require_scopes,
)


class NotesSettings(rainmaker.Settings):
    """What each instance answers as its label."""

    label: str = "notes"


Settings = Annotated[NotesSettings, PatternSettings(NotesSettings)]
Db = Annotated[SqlDatabase, Inject(Database)]


class NewNote(BaseModel):
    """``POST /notes``."""

    title: str = Field(min_length=1, max_length=50)


router = APIRouter()


@router.get("/where")
async def where(settings: Settings, db: Db) -> dict[str, Any]:
    async with db.session() as session:
        one = (await session.execute(text("SELECT 1"))).scalar_one()
    return {"label": settings.label, "database": db.instance, "one": one}


@router.post("/notes", status_code=201)
async def create(body: NewNote, user: CurrentUser, settings: Settings) -> dict[str, Any]:
    return {"title": body.title, "owner": user.email, "label": settings.label}


@router.get("/me")
async def me(user: CurrentUser) -> dict[str, Any]:
    return {"email": user.email}


@router.get("/maybe")
async def maybe(user: OptionalUser) -> dict[str, Any]:
    return {"email": user.email if user is not None else None}


@router.get("/token")
async def token(identity: Identity) -> dict[str, Any]:
    return {"user_id": identity.user_id, "roles": sorted(identity.roles)}


@router.get("/admin", dependencies=[require_roles("admin")])
async def admin() -> dict[str, bool]:
    return {"admin": True}


@router.get("/reports")
async def reports(
    identity: Annotated[TokenIdentity, require_scopes("reports:read")],
) -> dict[str, Any]:
    return {"scopes": sorted(identity.scopes)}


@router.get("/mail")
async def mail(mailer: Annotated[MailSender, Inject(Mailer)]) -> dict[str, str]:
    return {"mailer": type(mailer).__name__}


class NotesModule(rainmaker.Module[NotesSettings]):
    """Contributes the module-level router; nothing to start."""

    def router(self) -> APIRouter:
        return router


pattern = rainmaker.Pattern(
    id="notes",
    version="1.0.0",
    name="Notes",
    settings=NotesSettings,
    factory=NotesModule,
    requires=[Database, Mailer.optional()],
    mount="/notes",
)
