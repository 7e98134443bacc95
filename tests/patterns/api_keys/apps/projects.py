"""A pattern whose routes act in the request's organization through ``rainmaker.http``'s
organization guards, and know nothing about API keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

import rainmaker
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.organizations import Organizations
from rainmaker.http import CurrentOrg, CurrentUser, require_org_role, require_scopes

router = APIRouter()


@router.get("/here")
async def here(org: CurrentOrg) -> dict[str, Any]:
    return {"org": org.id, "role": org.role, "user": org.user_id}


@router.post("/projects", status_code=201, dependencies=[require_scopes("projects:write")])
async def create_project(org: CurrentOrg, user: CurrentUser) -> dict[str, Any]:
    return {"org": org.id, "by": user.id}


@router.get("/settings", dependencies=[require_org_role("admin")])
async def settings(org: CurrentOrg) -> dict[str, Any]:
    return {"org": org.id}


class ProjectsSettings(rainmaker.Settings):
    """Nothing to set."""


class ProjectsModule(rainmaker.Module[ProjectsSettings]):
    """Contributes the router."""

    def router(self) -> APIRouter:
        return router


projects = rainmaker.Pattern(
    id="projects",
    version="0.1.0",
    name="Projects",
    settings=ProjectsSettings,
    factory=ProjectsModule,
    requires=[Auth, Organizations],
    mount="/p",
)
