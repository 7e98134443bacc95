"""The ``Projects`` capability: what the routes (and any other pattern) use of the service.

The running module registers its :class:`~projects.service.ProjectsService` under it, so a
module-level route asks for ``Annotated[ProjectsApi, Inject(Projects)]`` instead of
closing over the module. The interface is a protocol, which keeps importing the package
(and its pattern declaration) light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from rainmaker import Capability

if TYPE_CHECKING:
    from projects import ProjectsSettings
    from projects.service import Plan, Project
    from rainmaker.capabilities.storage import ObjectReader


class ProjectsApi(Protocol):
    """A user's projects, their files and the limit of their plan."""

    settings: ProjectsSettings

    async def plan(self, user_id: str) -> Plan:
        """The user's plan (their active subscription's, else the free plan)."""
        ...

    async def count(self, user_id: str) -> int:
        """How many projects the user keeps."""
        ...

    async def welcomed(self, user_id: str) -> bool:
        """Whether the welcome email went out."""
        ...

    async def list_for(self, user_id: str) -> list[Project]:
        """The user's projects, newest first."""
        ...

    async def get(self, user_id: str, project_id: str) -> Project:
        """One of the user's projects (404 otherwise)."""
        ...

    async def create(self, user_id: str, name: str) -> Project:
        """A new project, within the plan's limit (403 beyond it)."""
        ...

    async def attach_file(
        self, user_id: str, project_id: str, filename: str, content_type: str | None, data: bytes
    ) -> Project:
        """Store ``data`` as the project's file."""
        ...

    async def read_file(self, user_id: str, project_id: str) -> tuple[Project, ObjectReader]:
        """The project and a stream of its file."""
        ...


Projects: Capability[ProjectsApi] = Capability(
    "Projects", ProjectsApi, description="A user's projects, limited by their plan."
)
