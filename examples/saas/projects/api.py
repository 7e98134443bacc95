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
    """An organization's projects, their files and the limit of its plan."""

    settings: ProjectsSettings

    async def plan(self, org_id: str) -> Plan:
        """The organization's plan (its owner's active subscription's, else the free plan)."""
        ...

    async def count(self, org_id: str) -> int:
        """How many projects the organization keeps."""
        ...

    async def welcomed(self, user_id: str) -> bool:
        """Whether the user's welcome email went out."""
        ...

    async def list_for(self, org_id: str) -> list[Project]:
        """The organization's projects, oldest first."""
        ...

    async def get(self, org_id: str, project_id: str) -> Project:
        """One of the organization's projects (404 otherwise)."""
        ...

    async def create(self, org_id: str, user_id: str, name: str) -> Project:
        """A new project of the organization, within its plan's limit (403 beyond it)."""
        ...

    async def attach_file(
        self, org_id: str, project_id: str, filename: str, content_type: str | None, data: bytes
    ) -> Project:
        """Store ``data`` as the project's file."""
        ...

    async def read_file(self, org_id: str, project_id: str) -> tuple[Project, ObjectReader]:
        """The project and a stream of its file."""
        ...


Projects: Capability[ProjectsApi] = Capability(
    "Projects", ProjectsApi, description="An organization's projects, limited by its plan."
)
