"""What the ``projects`` pattern does, independent of HTTP: an organization's projects and
files, its plan, the personal organization and the welcome email of a new user."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import func, insert, select, update

from projects import FREE_PLAN, ProjectsSettings
from projects.tables import projects, welcomes
from rainmaker import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from rainmaker.capabilities.cache import CacheBackend
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.mailer import Email, MailSender
from rainmaker.capabilities.organizations import Organization, OrganizationDirectory, scoped
from rainmaker.capabilities.payments import Owner, PaymentProcessor
from rainmaker.capabilities.storage import ObjectInfo, ObjectReader, ObjectStore

WELCOME_JOB = "projects.send_welcome"


class PlanLimitReachedError(ForbiddenError):
    """The organization keeps as many projects as its plan allows."""

    code: ClassVar[str] = "projects_plan_limit"
    title: ClassVar[str] = "Plan limit reached"


@dataclass(frozen=True)
class Plan:
    """An organization's plan and the number of projects it allows."""

    name: str
    limit: int


@dataclass(frozen=True)
class Project:
    """One project as the API shows it."""

    id: str
    name: str
    file_name: str | None
    file_size: int | None
    file_content_type: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "name": self.name,
            "file": None
            if self.file_name is None
            else {
                "name": self.file_name,
                "size": self.file_size,
                "content_type": self.file_content_type,
            },
            "created_at": self.created_at.isoformat(),
        }


class ProjectsService:
    """Projects of organizations, their files in ``Storage`` and the limit of their plan.

    Every read and write of ``projects_projects`` goes through :func:`scoped` with the
    organization's id, so no query can forget the tenant filter.
    """

    def __init__(
        self,
        settings: ProjectsSettings,
        *,
        db: SqlDatabase,
        payments: PaymentProcessor,
        storage: ObjectStore,
        mailer: MailSender,
        cache: CacheBackend,
        orgs: OrganizationDirectory,
    ) -> None:
        self.settings = settings
        self.db = db
        self.payments = payments
        self.storage = storage
        self.mailer = mailer
        self.cache = cache
        self.orgs = orgs

    # -- the personal organization -----------------------------------------------------------

    async def create_personal_org(self, user_id: str, email: str) -> Organization:
        """The organization every new user gets, owned by them (inside the signup's
        transaction: it commits or rolls back with the user)."""
        local = re.sub(r"[^a-z0-9]+", "-", email.split("@", 1)[0].lower()).strip("-")
        # A random tail keeps slugs unique without a lookup (and says nothing of the id).
        slug = f"{local[:40].strip('-') or 'user'}-{secrets.token_hex(3)}"
        # Names hold 200 characters and addresses up to 254: a long one is shortened.
        label = email if len(email) <= 180 else email[:179] + "…"
        return await self.orgs.create(user_id, slug=slug, name=f"{label}'s projects")

    # -- plans -----------------------------------------------------------------------------

    async def plan(self, org_id: str) -> Plan:
        """The organization's plan: its active subscription's, else the free plan (cached)."""
        cached = await self.cache.get_or_set(
            self._plan_key(org_id),
            lambda: self._load_plan(org_id),
            ttl=self.settings.plan_cache_ttl,
        )
        return Plan(str(cached["name"]), int(cached["limit"]))

    async def _load_plan(self, org_id: str) -> dict[str, Any]:
        subscription = await self.payments.get_subscription(Owner.org(org_id))
        name = FREE_PLAN
        if subscription is not None and subscription.active and subscription.plan:
            name = subscription.plan
        limits = self.settings.limits
        return {"name": name, "limit": limits.get(name, limits[FREE_PLAN])}

    async def forget_plan(self, org_id: str) -> None:
        """Drop the organization's cached plan (its subscription changed)."""
        await self.cache.delete(self._plan_key(org_id))

    @staticmethod
    def _plan_key(org_id: str) -> str:
        return f"plan:org:{org_id}"

    # -- projects --------------------------------------------------------------------------

    async def count(self, org_id: str) -> int:
        """How many projects the organization keeps."""
        async with self.db.session() as session:
            found = await session.scalar(scoped(select(func.count()).select_from(projects), org_id))
        return int(found or 0)

    async def list_for(self, org_id: str) -> list[Project]:
        """The organization's projects, oldest first."""
        async with self.db.session() as session:
            rows = await session.execute(
                scoped(select(projects), org_id).order_by(projects.c.created_at, projects.c.id)
            )
            return [_project(row._mapping) for row in rows]

    async def get(self, org_id: str, project_id: str) -> Project:
        """The organization's project ``project_id`` (404 for another organization's)."""
        return _project(await self._row(org_id, project_id))

    async def create(self, org_id: str, user_id: str, name: str) -> Project:
        """A new project of the organization, created by ``user_id``, unless the plan
        allows no more (403).

        Atomic across processes: the count and the insert run under ``db.lock`` on the
        organization.
        """
        name = name.strip()
        if not name:
            raise InvalidInputError("a project needs a name", pattern_id="projects")
        plan = await self.plan(org_id)
        async with self.db.transaction() as session:
            # Count and insert under the organization's lock: without it, concurrent
            # requests (other replicas too) all count the same number and together exceed
            # the plan.
            await self.db.lock(f"projects:org:{org_id}")
            used = await self.count(org_id)
            if used >= plan.limit:
                raise PlanLimitReachedError(
                    f"the {plan.name} plan allows {plan.limit} project(s) and this "
                    f"organization keeps {used}",
                    pattern_id="projects",
                    hint="an owner or admin can subscribe the organization to a larger plan "
                    "through POST /payments/orgs/{org}/checkout",
                )
            project_id = uuid.uuid4().hex
            created = datetime.now(UTC)
            await session.execute(
                insert(projects).values(
                    id=project_id, org_id=org_id, owner_id=user_id, name=name, created_at=created
                )
            )
        return Project(project_id, name, None, None, None, created)

    async def attach_file(
        self, org_id: str, project_id: str, filename: str, content_type: str | None, data: bytes
    ) -> Project:
        """Store ``data`` as the project's file (replacing the previous one)."""
        if len(data) > self.settings.max_file_size:
            raise InvalidInputError(
                f"the file has {len(data)} bytes; a project holds at most "
                f"{self.settings.max_file_size}",
                pattern_id="projects",
            )
        row = await self._row(org_id, project_id)
        safe_name = filename.replace("/", "_").replace("\\", "_").strip() or "file"
        key = f"projects/{org_id}/{project_id}/{uuid.uuid4().hex}"
        info: ObjectInfo = await self.storage.put(key, data, content_type=content_type)
        async with self.db.transaction() as session:
            await session.execute(
                scoped(update(projects).where(projects.c.id == project_id), org_id).values(
                    file_key=key,
                    file_name=safe_name,
                    file_size=info.size,
                    file_content_type=content_type or "application/octet-stream",
                )
            )
        old_key = row["file_key"]
        if old_key:
            await self.storage.delete(old_key)
        return await self.get(org_id, project_id)

    async def read_file(self, org_id: str, project_id: str) -> tuple[Project, ObjectReader]:
        """The project and a stream of its file (404 when it has none)."""
        row = await self._row(org_id, project_id)
        if not row["file_key"]:
            raise NotFoundError("this project has no file yet", pattern_id="projects")
        return _project(row), await self.storage.get(row["file_key"])

    async def _row(self, org_id: str, project_id: str) -> Any:
        async with self.db.session() as session:
            row = (
                await session.execute(
                    scoped(select(projects).where(projects.c.id == project_id), org_id)
                )
            ).first()
        if row is None:
            raise NotFoundError(f"no project {project_id!r}", pattern_id="projects")
        return row._mapping

    # -- welcome email (a job) -------------------------------------------------------------

    async def welcomed(self, user_id: str) -> bool:
        """Whether the user's welcome email went out."""
        async with self.db.session() as session:
            found = await session.scalar(
                select(welcomes.c.user_id).where(welcomes.c.user_id == user_id)
            )
        return found is not None

    async def send_welcome(self, user_id: str, email: str) -> None:
        """Email the welcome message once (the job may run more than once)."""
        if await self.welcomed(user_id):
            return
        product = self.settings.product_name
        free = self.settings.limits[FREE_PLAN]
        await self.mailer.send(
            Email(
                to=email,
                subject=f"Welcome to {product}",
                text=(
                    f"Hello,\n\nyour {product} account is ready. The free plan keeps "
                    f"{free} project(s); subscribe to keep more.\n"
                ),
            )
        )
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    insert(welcomes).values(user_id=user_id, sent_at=datetime.now(UTC))
                )
        except Exception as error:  # a concurrent run recorded it first
            if not await self.welcomed(user_id):
                raise ConflictError(
                    "could not record the welcome email", pattern_id="projects", cause=error
                ) from error


def _project(row: Any) -> Project:
    return Project(
        row["id"],
        row["name"],
        row["file_name"],
        row["file_size"],
        row["file_content_type"],
        row["created_at"],
    )
