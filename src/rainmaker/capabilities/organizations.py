"""The ``Organizations`` capability: tenants, their members and roles, invitations, events.

A provider (the ``organizations`` pattern) registers an :class:`OrganizationDirectory`.
Routes of any pattern or app find the active organization of a request with the
dependencies of :mod:`rainmaker.http` (``CurrentOrg``, ``require_org_role``), which read
the membership on every request, so a role change or a removal counts from the next one::

    from rainmaker.http import CurrentOrg, require_org_role

    @router.get("/projects")
    async def projects(org: CurrentOrg) -> ...            # org.id, org.role, org.user

    @router.delete("/projects/{id}", dependencies=[require_org_role("admin")])
    async def delete(id: str) -> ...

Roles are ordered from most to least powerful (``owner``, ``admin``, ``member`` by default,
plus roles the app declares in its settings); a role requirement is met by that role or a
more powerful one.

**Tenant isolation.** Data another pattern keeps per organization carries an ``org_id``
column; :func:`scoped` adds ``org_id = :org`` for *every* table of a statement that has
one, and refuses a statement with none, so a query cannot silently read across tenants::

    rows = await session.execute(scoped(sa.select(projects), org.id))

:func:`tenant_scope` does the same for every statement a session executes while it is
open (``async with tenant_scope(session, org.id): ...``), for code that runs many queries.

This module imports neither FastAPI nor SQLAlchemy (the helpers import SQLAlchemy when
called), so declaring ``Organizations.optional()`` costs nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from rainmaker.kernel.capability import Capability
from rainmaker.kernel.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PatternError,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

OWNER = "owner"
ADMIN = "admin"
MEMBER = "member"
BUILTIN_ROLES = (OWNER, ADMIN, MEMBER)
"""The roles every provider knows, most powerful first; apps may declare more."""

ORG_CREATED = "org.created"
ORG_DELETED = "org.deleted"
MEMBER_ADDED = "member.added"
MEMBER_REMOVED = "member.removed"
INVITATION_ACCEPTED = "invitation.accepted"
EVENT_NAMES = frozenset(
    {ORG_CREATED, ORG_DELETED, MEMBER_ADDED, MEMBER_REMOVED, INVITATION_ACCEPTED}
)
"""Every event a provider emits; ``subscribe`` refuses other names (typos)."""

ORG_HEADER = "X-Organization"
"""The request header naming the active organization (its id or slug) on routes whose
path has no ``{org}`` parameter."""

TENANT_COLUMN = "org_id"
"""The column :func:`scoped` and :func:`tenant_scope` filter on."""

ORG_PRINCIPAL_PREFIX = "org:"
"""How the user id of a credential acting for an organization itself starts (an
organization's API key signs in as ``org:<org id>``). :meth:`OrganizationDirectory.resolve`
treats such a principal as a ``member`` of that one organization, and ``CurrentOrg`` picks
that organization when the request names none."""


def org_principal(org_id: str) -> str:
    """The user id a credential of the organization ``org_id`` acts as."""
    return ORG_PRINCIPAL_PREFIX + org_id


def principal_org(user_id: str) -> str | None:
    """The organization a principal acts for, or ``None`` for an ordinary user."""
    if user_id.startswith(ORG_PRINCIPAL_PREFIX):
        return user_id[len(ORG_PRINCIPAL_PREFIX) :] or None
    return None


# -- errors: every provider raises these, so callers and the HTTP layer can rely on them --


class OrganizationNotFoundError(NotFoundError):
    """No such organization — or one the user is not a member of (404, so ids don't leak)."""

    code: ClassVar[str] = "org_not_found"
    title: ClassVar[str] = "Organization not found"


class OrganizationRequiredError(InvalidInputError):
    """A route needs an active organization and the request names none."""

    code: ClassVar[str] = "org_required"
    title: ClassVar[str] = "Organization required"


class OrgRoleRequiredError(ForbiddenError):
    """The user is a member, but their role in the organization is not enough."""

    code: ClassVar[str] = "org_role_required"
    title: ClassVar[str] = "Organization role required"


class OrgTwoFactorRequiredError(ForbiddenError):
    """The organization requires two-factor authentication (``require_two_factor``) and
    the request's token was not issued after a second factor (its ``amr`` lacks ``otp``)."""

    code: ClassVar[str] = "org_two_factor_required"
    title: ClassVar[str] = "Two-factor authentication required by the organization"


class UnknownRoleError(InvalidInputError):
    """A role the app did not declare (settings ``roles``)."""

    code: ClassVar[str] = "org_role_unknown"
    title: ClassVar[str] = "Unknown role"


class SlugInvalidError(InvalidInputError):
    """A slug that is not 2 to 63 lowercase letters, digits and single hyphens."""

    code: ClassVar[str] = "org_slug_invalid"
    title: ClassVar[str] = "Invalid slug"


class SlugTakenError(ConflictError):
    """Another organization (deleted ones in their grace period included) has the slug."""

    code: ClassVar[str] = "org_slug_taken"
    title: ClassVar[str] = "Slug taken"


class LastOwnerError(ConflictError):
    """The change would leave the organization without an owner."""

    code: ClassVar[str] = "org_last_owner"
    title: ClassVar[str] = "Last owner"


class MemberNotFoundError(NotFoundError):
    """The user is not a member of the organization."""

    code: ClassVar[str] = "org_member_not_found"
    title: ClassVar[str] = "Member not found"


class AlreadyMemberError(ConflictError):
    """The user (or the invited address) is a member already."""

    code: ClassVar[str] = "org_already_member"
    title: ClassVar[str] = "Already a member"


class InvitationNotFoundError(NotFoundError):
    """No invitation has this token (or this id in this organization)."""

    code: ClassVar[str] = "org_invitation_not_found"
    title: ClassVar[str] = "Invitation not found"


class InvitationExpiredError(PatternError):
    """The invitation's time ran out: 410, ask for a new one."""

    code: ClassVar[str] = "org_invitation_expired"
    status: ClassVar[int] = 410
    title: ClassVar[str] = "Invitation expired"


class InvitationSpentError(PatternError):
    """The invitation was accepted or revoked already: 410, it is single-use."""

    code: ClassVar[str] = "org_invitation_spent"
    status: ClassVar[int] = 410
    title: ClassVar[str] = "Invitation already used"


class InvitationAccountMismatchError(ForbiddenError):
    """The signed-in account's email is not the address the invitation was sent to."""

    code: ClassVar[str] = "org_invitation_other_account"
    title: ClassVar[str] = "Invitation for another account"


# -- values ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Organization:
    """One organization. ``deleted_at`` is set during the grace period before the purge."""

    id: str
    slug: str
    name: str
    created_at: datetime
    deleted_at: datetime | None = None
    purge_after: datetime | None = None
    require_two_factor: bool = False
    """Members act in it only with a token from a two-factor login (``CurrentOrg``)."""

    def as_dict(self) -> dict[str, Any]:
        """The organization as JSON."""
        return {
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "deleted_at": self.deleted_at.isoformat() if self.deleted_at else None,
            "purge_after": self.purge_after.isoformat() if self.purge_after else None,
            "require_two_factor": self.require_two_factor,
        }


@dataclass(frozen=True)
class Membership:
    """A user's place in an organization: their role, since when."""

    org_id: str
    user_id: str
    role: str
    joined_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The membership as JSON."""
        return {
            "org_id": self.org_id,
            "user_id": self.user_id,
            "role": self.role,
            "joined_at": self.joined_at.isoformat(),
        }


@dataclass(frozen=True)
class Invitation:
    """An invitation by email; its token is never stored, only its hash."""

    id: str
    org_id: str
    email: str
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The invitation as JSON (never the token)."""
        return {
            "id": self.id,
            "org_id": self.org_id,
            "email": self.email,
            "role": self.role,
            "invited_by": self.invited_by,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True)
class IssuedInvitation:
    """What :meth:`OrganizationDirectory.invite` answers: the invitation and its token,
    which exists only here and in the email — or ``None`` when the email is a job (a
    ``Jobs`` pattern is composed): the job issues the token it mails, so that no plain
    token waits in the queue."""

    invitation: Invitation
    token: str | None


@dataclass(frozen=True)
class ActiveOrganization:
    """The organization a request acts in, and the signed-in user's membership of it.

    Read from the database on every request (``CurrentOrg``), so a role change or removal
    takes effect on the next request.
    """

    organization: Organization
    membership: Membership

    @property
    def id(self) -> str:
        """The organization's id: what ``org_id`` columns hold."""
        return self.organization.id

    @property
    def role(self) -> str:
        """The signed-in user's role in it."""
        return self.membership.role

    @property
    def user_id(self) -> str:
        """The signed-in user."""
        return self.membership.user_id


@dataclass(frozen=True)
class OrgEvent:
    """A domain event: ``name`` (one of :data:`EVENT_NAMES`), its organization and user
    (the member added or removed, the creator, the one who accepted; empty for
    ``org.deleted``), and its facts (``role``, ``slug``, ``invitation_id``)."""

    name: str
    org_id: str
    user_id: str
    data: Mapping[str, Any] = field(default_factory=dict)


OrgEventHandler = Callable[[OrgEvent], Awaitable[None]]


@runtime_checkable
class OrganizationDirectory(Protocol):
    """What every ``Organizations`` provider implements.

    ``org`` arguments take an organization's id or slug. Organizations in their deletion
    grace period are invisible to every method but :meth:`restore` and :meth:`purge`.
    Events reach subscribers only after the change that caused them commits.
    """

    @property
    def roles(self) -> tuple[str, ...]:
        """The declared roles, most powerful first (``owner`` first, ``member`` included)."""
        ...

    def role_satisfies(self, role: str, *required: str) -> bool:
        """Whether ``role`` is one of ``required`` or more powerful than one of them."""
        ...

    async def create(self, owner_id: str, *, slug: str, name: str) -> Organization:
        """A new organization with ``owner_id`` as its owner (``org.created``,
        ``member.added``); :class:`SlugTakenError`, :class:`SlugInvalidError`."""
        ...

    async def get(self, org: str) -> Organization | None:
        """The organization, or ``None`` (deleted ones too)."""
        ...

    async def update(
        self,
        org: str,
        *,
        name: str | None = None,
        slug: str | None = None,
        require_two_factor: bool | None = None,
    ) -> Organization:
        """Rename it, change its slug, or turn its two-factor requirement on or off."""
        ...

    async def resolve(self, org: str, user_id: str) -> ActiveOrganization:
        """The organization and ``user_id``'s membership of it, read now;
        :class:`OrganizationNotFoundError` when either is missing (the same answer, so a
        non-member learns nothing)."""
        ...

    async def organizations_of(self, user_id: str) -> list[ActiveOrganization]:
        """Every organization ``user_id`` belongs to, oldest membership first."""
        ...

    async def members(self, org: str) -> list[Membership]:
        """The members, owners first then by join time."""
        ...

    async def membership(self, org: str, user_id: str) -> Membership | None:
        """``user_id``'s membership of ``org``, or ``None``."""
        ...

    async def add_member(self, org: str, user_id: str, role: str = MEMBER) -> Membership:
        """Add a user directly (``member.added``); :class:`AlreadyMemberError`."""
        ...

    async def change_role(self, org: str, user_id: str, role: str) -> Membership:
        """Give a member another role; :class:`LastOwnerError` when it demotes the last
        owner, :class:`UnknownRoleError`, :class:`MemberNotFoundError`."""
        ...

    async def remove_member(self, org: str, user_id: str) -> None:
        """Take a member out (``member.removed``); leaving is removing oneself.
        :class:`LastOwnerError` for the last owner, :class:`MemberNotFoundError`."""
        ...

    async def transfer_ownership(self, org: str, from_user: str, to_user: str) -> None:
        """``to_user`` (a member) becomes an owner and ``from_user`` an admin."""
        ...

    async def invite(
        self, org: str, email: str, *, role: str = MEMBER, invited_by: str
    ) -> IssuedInvitation:
        """Email a single-use, expiring invitation; a pending one to the same address is
        replaced. :class:`AlreadyMemberError` when the address belongs to a member."""
        ...

    async def invitations(self, org: str) -> list[Invitation]:
        """Pending (not accepted, revoked or expired) invitations, newest first."""
        ...

    async def revoke_invitation(self, org: str, invitation_id: str) -> None:
        """Cancel a pending invitation; :class:`InvitationNotFoundError`."""
        ...

    async def accept_invitation(self, token: str, user_id: str, email: str) -> Membership:
        """Join with the invitation's role (``invitation.accepted``, ``member.added``).

        ``email`` is the signed-in account's: it must be the invited address.
        :class:`InvitationNotFoundError`, :class:`InvitationExpiredError`,
        :class:`InvitationSpentError`, :class:`InvitationAccountMismatchError`,
        :class:`AlreadyMemberError`.
        """
        ...

    async def delete(self, org: str) -> Organization:
        """Soft-delete (``org.deleted``): invisible at once, purged after the grace period."""
        ...

    async def restore(self, org_id: str) -> Organization:
        """Undo a deletion during its grace period."""
        ...

    async def purge(self, *, now: datetime | None = None) -> int:
        """Remove, with their members and invitations, organizations whose grace period
        ended (by ``now``); how many."""
        ...

    def subscribe(self, event: str, handler: OrgEventHandler) -> Callable[[], None]:
        """Call ``handler`` after each committed ``event``; returns the unsubscriber."""
        ...


Organizations: Capability[OrganizationDirectory] = Capability(
    "Organizations",
    OrganizationDirectory,
    description="Organizations (tenants), members with roles, invitations by email.",
)


# -- tenant isolation -----------------------------------------------------------------

S = TypeVar("S")


def scoped(statement: S, org_id: str, *, column: str = TENANT_COLUMN) -> S:
    """``statement`` restricted to ``org_id`` on every table of it that has ``column``.

    Works on SQLAlchemy ``select``, ``update`` and ``delete`` (Core tables or ORM
    entities). Every table in the statement's FROM list (joined ones included) that has
    the column gets ``column = org_id``, so a join cannot bring in another tenant's rows;
    a statement with no such table is refused with ``ValueError`` instead of running
    unscoped. (A filter on the inner side of an outer join turns it into an inner join:
    put per-tenant tables on the outer side.)
    """
    import sqlalchemy as sa

    tables = _tenant_tables(statement, column)
    if not tables:
        raise ValueError(
            f"scoped(): no table of this statement has an {column!r} column, so it cannot "
            "be restricted to one organization"
        )
    criteria = [table.c[column] == sa.literal(org_id) for table in tables]
    return statement.where(*criteria)  # type: ignore[attr-defined,no-any-return]


def _tenant_tables(statement: Any, column: str) -> list[Any]:
    from sqlalchemy import Delete, Select, Update

    froms: list[Any]
    if isinstance(statement, Update | Delete):
        froms = [statement.table]
    elif isinstance(statement, Select):
        froms = list(statement.get_final_froms())
    else:
        raise TypeError(
            f"scoped() takes a select, update or delete statement, not {type(statement).__name__}"
        )
    found: list[Any] = []
    for from_ in froms:
        for selectable in _joined(from_):
            columns = getattr(selectable, "c", None)
            if (
                columns is not None
                and column in columns
                and all(selectable is not seen for seen in found)
            ):
                found.append(selectable)
    return found


def _joined(from_: Any) -> Iterator[Any]:
    # A join's sides, recursively; a table, alias or subquery is one selectable (its
    # own columns are what the statement reads, so the filter goes on it, not inside it).
    from sqlalchemy import Join

    if isinstance(from_, Join):
        yield from _joined(from_.left)
        yield from _joined(from_.right)
    else:
        yield from_


@contextmanager
def tenant_scope(
    session: AsyncSession, org_id: str, *, column: str = TENANT_COLUMN
) -> Iterator[None]:
    """Scope every select, update and delete ``session`` executes to ``org_id`` while open.

    Statements touching no table with ``column`` (another pattern's own tables, say) run
    unchanged; every other one gets :func:`scoped`'s filter. Inserts are not changed:
    write ``org_id`` yourself. Nested scopes for different organizations are refused.
    """
    from sqlalchemy import Delete, Select, Update, event

    sync_session = session.sync_session
    current = sync_session.info.get("rainmaker.tenant")
    if current is not None and current != org_id:
        raise RuntimeError(
            f"tenant_scope(): this session is already scoped to organization {current!r}"
        )

    def restrict(state: Any) -> None:
        statement = state.statement
        if isinstance(statement, Select | Update | Delete) and _tenant_tables(statement, column):
            state.statement = scoped(statement, org_id, column=column)

    sync_session.info["rainmaker.tenant"] = org_id
    event.listen(sync_session, "do_orm_execute", restrict)
    try:
        yield
    finally:
        event.remove(sync_session, "do_orm_execute", restrict)
        if current is None:
            sync_session.info.pop("rainmaker.tenant", None)
