"""HTTP routes of ``projects`` (mounted under ``/projects``); every one needs a user.

No ``from __future__ import annotations`` here: FastAPI reads these annotations at runtime.
"""

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from projects.service import ProjectsService
from rainmaker.capabilities.auth import User, auth_guards
from rainmaker.kernel.registry import Services


class NewProject(BaseModel):
    """``POST /projects``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


def projects_router(resolve: Callable[[], ProjectsService], services: Services) -> APIRouter:
    """The routes; ``resolve`` returns the running service."""
    guards = auth_guards(services)
    CurrentUser = Annotated[User, Depends(guards.current_user)]
    router = APIRouter(tags=["projects"])

    @router.get("/account", summary="Your plan, its limit, projects used, welcome email")
    async def account(user: CurrentUser) -> dict[str, Any]:
        service = resolve()
        plan = await service.plan(user.id)
        return {
            "user_id": user.id,
            "email": user.email,
            "verified": user.verified,
            "plan": plan.name,
            "limit": plan.limit,
            "used": await service.count(user.id),
            "welcome_sent": await service.welcomed(user.id),
        }

    @router.get("", summary="Your projects")
    async def list_projects(user: CurrentUser) -> dict[str, Any]:
        found = await resolve().list_for(user.id)
        return {"projects": [project.as_dict() for project in found]}

    @router.post("", status_code=201, summary="Create a project (within your plan's limit)")
    async def create(body: NewProject, user: CurrentUser) -> dict[str, Any]:
        return (await resolve().create(user.id, body.name)).as_dict()

    @router.get("/{project_id}", summary="One of your projects")
    async def get(project_id: str, user: CurrentUser) -> dict[str, Any]:
        return (await resolve().get(user.id, project_id)).as_dict()

    @router.put("/{project_id}/file", summary="Upload the project's file (multipart, 'file')")
    async def upload(project_id: str, file: UploadFile, user: CurrentUser) -> dict[str, Any]:
        service = resolve()
        data = await file.read(service.settings.max_file_size + 1)
        project = await service.attach_file(
            user.id, project_id, file.filename or "file", file.content_type, data
        )
        return project.as_dict()

    @router.get("/{project_id}/file", summary="Download the project's file")
    async def download(project_id: str, user: CurrentUser) -> StreamingResponse:
        project, reader = await resolve().read_file(user.id, project_id)
        name = quote(project.file_name or "file")
        return StreamingResponse(
            reader,
            media_type=project.file_content_type or "application/octet-stream",
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
                "Content-Length": str(reader.info.size),
            },
        )

    return router
