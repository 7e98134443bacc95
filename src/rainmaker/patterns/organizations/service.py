"""``OrganizationService``: the ``Organizations`` provider, on the app's SQL database.

Every change runs in ``db.transaction()`` (a savepoint inside a caller's unit of work, so
it commits or rolls back with it) and emits its events after that commit. Changes to who
owns an organization lock its row first (``SELECT … FOR UPDATE``), so two owners demoting
each other at once cannot leave it with none. Membership is read on every
:meth:`resolve`, which ``CurrentOrg`` calls per request: nothing is cached.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from rainmaker import InvalidInputError, utcnow
from rainmaker.capabilities.auth import Authenticator
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.jobs import JobQueue
from rainmaker.capabilities.mailer import MailSender
from rainmaker.capabilities.organizations import (
    ADMIN,
    INVITATION_ACCEPTED,
    MEMBER,
    MEMBER_ADDED,
    MEMBER_REMOVED,
    ORG_CREATED,
    ORG_DELETED,
    OWNER,
    ActiveOrganization,
    AlreadyMemberError,
    Invitation,
    InvitationAccountMismatchError,
    InvitationExpiredError,
    InvitationNotFoundError,
    InvitationSpentError,
    IssuedInvitation,
    LastOwnerError,
    MemberNotFoundError,
    Membership,
    Organization,
    OrganizationNotFoundError,
    OrgEvent,
    OrgEventHandler,
    OrgRoleRequiredError,
    SlugInvalidError,
    SlugTakenError,
    UnknownRoleError,
    principal_org,
)
from rainmaker.patterns.organizations.events import EventBus
from rainmaker.patterns.organizations.settings import OrganizationsSettings
from rainmaker.patterns.organizations.tables import invitations, members, organizations

PACKAGE = "rainmaker.patterns.organizations"
INVITATION_TEMPLATE = "orgs_invitation"
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){1,62}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def token_hash(token: str) -> str:
    """What the table keeps of an invitation token (SHA-256: tokens are 256 random bits,
    so a fast hash is enough and lookups stay one indexed equality)."""
    return hashlib.sha256(token.encode()).hexdigest()


def canonical_email(email: str) -> str:
    """Emails are compared (and stored) trimmed and case-folded."""
    return email.strip().lower()


def duration_words(seconds: float) -> str:
    """``7 days``, ``2 hours``, ``30 minutes``: how long, for an email."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{int(seconds)} seconds"


class OrganizationService:
    """The ``Organizations`` provider of this pattern (an ``OrganizationDirectory``)."""

    def __init__(
        self,
        settings: OrganizationsSettings,
        *,
        db: SqlDatabase,
        auth: Authenticator,
        mailer: MailSender,
        log: Any,
        pattern_id: str,
        app_name: str,
    ) -> None:
        self.settings = settings
        self.db = db
        self.auth = auth
        self.mailer = mailer
        self.log = log
        self.pattern_id = pattern_id
        self.app_name = settings.app_name or app_name
        self.events = EventBus(db, log=log)
        self._rank = {role: rank for rank, role in enumerate(settings.roles)}
        # With Jobs (see use_jobs) invitation emails are jobs committed with the invitation.
        self.jobs: JobQueue | None = None
        self.email_job: str | None = None

    def use_jobs(self, jobs: JobQueue, job_name: str) -> None:
        """Send invitation emails through ``jobs`` (``job_name`` runs
        :meth:`run_invitation_email`): a crash after the commit delays the email, never
        drops it, and a failed send is retried."""
        self.jobs = jobs
        self.email_job = job_name

    # -- roles ---------------------------------------------------------------------------

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.settings.roles)

    def role_satisfies(self, role: str, *required: str) -> bool:
        rank = self._rank.get(role)
        if rank is None:
            return False
        return any(rank <= self._rank.get(wanted, -1) for wanted in required)

    def check_role(self, role: str) -> str:
        """``role`` if the app declared it, else :class:`UnknownRoleError` listing them."""
        if role not in self._rank:
            raise UnknownRoleError(
                f"{role!r} is not a role of this app: "
                f"use one of {', '.join(self.roles)} (settings: roles)",
                pattern_id=self.pattern_id,
            )
        return role

    # -- organizations -------------------------------------------------------------------

    def _check_slug(self, slug: str) -> str:
        if not _SLUG.match(slug) or _UUID.match(slug):
            raise SlugInvalidError(
                f"{slug!r} is not a valid slug",
                pattern_id=self.pattern_id,
                hint="use 2 to 63 lowercase letters, digits and single hyphens, starting "
                "and ending with a letter or digit (e.g. 'acme-labs')",
            )
        return slug

    def _check_name(self, name: str) -> str:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInputError(
                "an organization's name has 1 to 200 characters", pattern_id=self.pattern_id
            )
        return name

    async def create(self, owner_id: str, *, slug: str, name: str) -> Organization:
        slug, name = self._check_slug(slug), self._check_name(name)
        now = utcnow()
        org = Organization(id=str(uuid.uuid4()), slug=slug, name=name, created_at=now)
        try:
            async with self.db.transaction() as session:
                await self._refuse_taken_slug(session, slug)
                await session.execute(
                    sa.insert(organizations).values(id=org.id, slug=slug, name=name, created_at=now)
                )
                await session.execute(
                    sa.insert(members).values(
                        org_id=org.id, user_id=owner_id, role=OWNER, joined_at=now
                    )
                )
                self.events.emit(OrgEvent(ORG_CREATED, org.id, owner_id, {"slug": slug}))
                self.events.emit(OrgEvent(MEMBER_ADDED, org.id, owner_id, {"role": OWNER}))
        except sa_exc.IntegrityError as error:  # a concurrent create took the slug
            raise self._slug_taken(slug, error) from error
        return org

    async def _refuse_taken_slug(self, session: AsyncSession, slug: str) -> None:
        taken = await session.scalar(
            sa.select(organizations.c.id).where(organizations.c.slug == slug)
        )
        if taken is not None:
            raise self._slug_taken(slug)

    def _slug_taken(self, slug: str, cause: BaseException | None = None) -> SlugTakenError:
        return SlugTakenError(
            f"the slug {slug!r} is taken",
            pattern_id=self.pattern_id,
            cause=cause,
            hint="choose another slug",
        )

    async def get(self, org: str) -> Organization | None:
        async with self.db.session() as session:
            row = await _first(session, _LIVE_BY_NAME, _name_params(org))
        return _organization(row) if row is not None else None

    async def _find(
        self,
        session: AsyncSession,
        org: str,
        *,
        lock: bool = False,
        deleted: bool = False,
    ) -> RowMapping | None:
        statement = sa.select(organizations).where(_names(org))
        if not deleted:
            statement = statement.where(organizations.c.deleted_at.is_(None))
        if lock:
            statement = statement.with_for_update()
        return (await session.execute(statement)).mappings().first()

    async def _require(self, session: AsyncSession, org: str, *, lock: bool = False) -> RowMapping:
        row = await self._find(session, org, lock=lock)
        if row is None:
            raise self._not_found(org)
        return row

    def _not_found(self, org: str) -> OrganizationNotFoundError:
        return OrganizationNotFoundError(
            f"no organization {org!r} that you are a member of: "
            "check the id or slug in the path or the X-Organization header",
            pattern_id=self.pattern_id,
        )

    async def update(
        self,
        org: str,
        *,
        name: str | None = None,
        slug: str | None = None,
        require_two_factor: bool | None = None,
    ) -> Organization:
        values: dict[str, Any] = {}
        if require_two_factor is not None:
            values["require_two_factor"] = require_two_factor
        if name is not None:
            values["name"] = self._check_name(name)
        if slug is not None:
            values["slug"] = self._check_slug(slug)
        try:
            async with self.db.transaction() as session:
                row = await self._require(session, org, lock=True)
                if slug is not None and slug != row["slug"]:
                    await self._refuse_taken_slug(session, slug)
                if values:
                    await session.execute(
                        sa.update(organizations)
                        .where(organizations.c.id == row["id"])
                        .values(**values)
                    )
                    row = await self._require(session, row["id"])
        except sa_exc.IntegrityError as error:
            raise self._slug_taken(str(slug), error) from error
        return _organization(row)

    async def resolve(self, org: str, user_id: str) -> ActiveOrganization:
        acting_for = principal_org(user_id)
        if acting_for is not None:
            return await self._resolve_principal(org, acting_for, user_id)
        # One round trip per request: the organization and the membership together.
        async with self.db.session() as session:
            row = await _first(session, _ACTIVE_MEMBERSHIP, {**_name_params(org), "user": user_id})
        if row is None:
            raise self._not_found(org)
        organization = _organization(row)
        return ActiveOrganization(
            organization, Membership(organization.id, user_id, row["role"], row["joined_at"])
        )

    async def _resolve_principal(self, org: str, org_id: str, user_id: str) -> ActiveOrganization:
        """An organization's own credential (its API key): a plain member of that one
        organization, so role-guarded routes stay closed to it; any other is not found."""
        async with self.db.session() as session:
            row = await _first(session, _LIVE_BY_NAME, _name_params(org))
        if row is None or row["id"] != org_id:
            raise self._not_found(org)
        organization = _organization(row)
        return ActiveOrganization(
            organization, Membership(organization.id, user_id, MEMBER, organization.created_at)
        )

    async def organizations_of(self, user_id: str) -> list[ActiveOrganization]:
        async with self.db.session() as session:
            rows = await _all(
                session,
                sa.select(organizations, members.c.role, members.c.joined_at)
                .join(members, members.c.org_id == organizations.c.id)
                .where(members.c.user_id == user_id, organizations.c.deleted_at.is_(None))
                .order_by(members.c.joined_at, organizations.c.id),
            )
        found = []
        for row in rows:
            organization = _organization(row)
            membership = Membership(organization.id, user_id, row["role"], row["joined_at"])
            found.append(ActiveOrganization(organization, membership))
        return found

    async def delete(self, org: str) -> Organization:
        now = utcnow()
        purge_after = now + timedelta(seconds=self.settings.deletion_grace)
        async with self.db.transaction() as session:
            row = await self._require(session, org, lock=True)
            await session.execute(
                sa.update(organizations)
                .where(organizations.c.id == row["id"])
                .values(deleted_at=now, purge_after=purge_after)
            )
            self.events.emit(OrgEvent(ORG_DELETED, row["id"], "", {"slug": row["slug"]}))
        return _organization({**row, "deleted_at": now, "purge_after": purge_after})

    async def restore(self, org_id: str) -> Organization:
        async with self.db.transaction() as session:
            row = await self._find(session, org_id, lock=True, deleted=True)
            if row is None or row["deleted_at"] is None:
                raise OrganizationNotFoundError(
                    f"no deleted organization {org_id!r} to restore (it may be purged)",
                    pattern_id=self.pattern_id,
                )
            await session.execute(
                sa.update(organizations)
                .where(organizations.c.id == row["id"])
                .values(deleted_at=None, purge_after=None)
            )
        return _organization({**row, "deleted_at": None, "purge_after": None})

    async def purge(self, *, now: datetime | None = None) -> int:
        now = now or utcnow()
        async with self.db.transaction() as session:
            ids = list(
                await session.scalars(
                    sa.select(organizations.c.id).where(
                        organizations.c.deleted_at.is_not(None),
                        organizations.c.purge_after <= now,
                    )
                )
            )
            if ids:
                # Children first: the foreign keys hold on every backend.
                await session.execute(sa.delete(invitations).where(invitations.c.org_id.in_(ids)))
                await session.execute(sa.delete(members).where(members.c.org_id.in_(ids)))
                await session.execute(sa.delete(organizations).where(organizations.c.id.in_(ids)))
        if ids:
            self.log.info("organizations.purged", count=len(ids))
        return len(ids)

    # -- members -------------------------------------------------------------------------

    async def members(self, org: str) -> list[Membership]:
        async with self.db.session() as session:
            row = await self._require(session, org)
            rows = await _all(
                session,
                sa.select(members)
                .where(members.c.org_id == row["id"])
                .order_by(members.c.joined_at, members.c.user_id),
            )
        found = [_membership(r) for r in rows]
        return sorted(found, key=lambda m: self._rank.get(m.role, len(self._rank)) != 0)

    async def membership(self, org: str, user_id: str) -> Membership | None:
        async with self.db.session() as session:
            row = await self._find(session, org)
            return await self._membership(session, row["id"], user_id) if row else None

    async def add_member(self, org: str, user_id: str, role: str = MEMBER) -> Membership:
        self.check_role(role)
        async with self.db.transaction() as session:
            row = await self._require(session, org, lock=True)
            return await self._add(session, row["id"], user_id, role)

    async def _add(self, session: AsyncSession, org_id: str, user_id: str, role: str) -> Membership:
        if await self._membership(session, org_id, user_id) is not None:
            raise AlreadyMemberError(
                "that user is a member of the organization already: "
                "change their role with PATCH /orgs/{org}/members/{user} instead",
                pattern_id=self.pattern_id,
            )
        now = utcnow()
        await session.execute(
            sa.insert(members).values(org_id=org_id, user_id=user_id, role=role, joined_at=now)
        )
        self.events.emit(OrgEvent(MEMBER_ADDED, org_id, user_id, {"role": role}))
        return Membership(org_id, user_id, role, now)

    async def _membership(
        self, session: AsyncSession, org_id: str, user_id: str
    ) -> Membership | None:
        row = await _first(
            session,
            sa.select(members).where(members.c.org_id == org_id, members.c.user_id == user_id),
        )
        return _membership(row) if row is not None else None

    async def _require_member(self, session: AsyncSession, org_id: str, user_id: str) -> Membership:
        found = await self._membership(session, org_id, user_id)
        if found is None:
            raise MemberNotFoundError(
                f"user {user_id!r} is not a member of this organization: "
                "list the members with GET /orgs/{org}/members",
                pattern_id=self.pattern_id,
            )
        return found

    async def _refuse_last_owner(self, session: AsyncSession, org_id: str, what: str) -> None:
        owners = await session.scalar(
            sa.select(sa.func.count())
            .select_from(members)
            .where(members.c.org_id == org_id, members.c.role == OWNER)
        )
        if (owners or 0) <= 1:
            raise LastOwnerError(
                f"{what} would leave the organization without an owner",
                pattern_id=self.pattern_id,
                hint="make another member an owner first (or transfer the ownership), or "
                "delete the organization",
            )

    async def change_role(self, org: str, user_id: str, role: str) -> Membership:
        self.check_role(role)
        async with self.db.transaction() as session:
            row = await self._require(session, org, lock=True)
            current = await self._require_member(session, row["id"], user_id)
            if current.role == role:
                return current
            if current.role == OWNER:
                await self._refuse_last_owner(session, row["id"], "demoting the last owner")
            await session.execute(
                sa.update(members)
                .where(members.c.org_id == row["id"], members.c.user_id == user_id)
                .values(role=role)
            )
        return Membership(current.org_id, user_id, role, current.joined_at)

    async def remove_member(self, org: str, user_id: str) -> None:
        async with self.db.transaction() as session:
            row = await self._require(session, org, lock=True)
            current = await self._require_member(session, row["id"], user_id)
            if current.role == OWNER:
                await self._refuse_last_owner(session, row["id"], "removing the last owner")
            await session.execute(
                sa.delete(members).where(
                    members.c.org_id == row["id"], members.c.user_id == user_id
                )
            )
            self.events.emit(OrgEvent(MEMBER_REMOVED, row["id"], user_id, {"role": current.role}))

    async def transfer_ownership(self, org: str, from_user: str, to_user: str) -> None:
        if from_user == to_user:
            raise InvalidInputError(
                "the ownership goes to another member", pattern_id=self.pattern_id
            )
        async with self.db.transaction() as session:
            row = await self._require(session, org, lock=True)
            giver = await self._require_member(session, row["id"], from_user)
            if giver.role != OWNER:
                raise OrgRoleRequiredError(
                    "only an owner can transfer the ownership", pattern_id=self.pattern_id
                )
            await self._require_member(session, row["id"], to_user)
            # The giver stays on as an admin (settings always declare it), able to leave.
            for user_id, role in ((to_user, OWNER), (from_user, ADMIN)):
                await session.execute(
                    sa.update(members)
                    .where(members.c.org_id == row["id"], members.c.user_id == user_id)
                    .values(role=role)
                )

    # -- invitations ---------------------------------------------------------------------

    async def invite(
        self, org: str, email: str, *, role: str = MEMBER, invited_by: str
    ) -> IssuedInvitation:
        self.check_role(role)
        address = canonical_email(email)
        if not _EMAIL.match(address) or len(address) > 320:
            raise InvalidInputError(
                f"{email!r} is not an email address", pattern_id=self.pattern_id
            )
        token = secrets.token_urlsafe(32)
        now = utcnow()
        existing_user = await self.auth.get_user_by_email(address)
        in_callers_transaction = self.db.in_transaction
        async with self.db.transaction() as session:
            row = await self._require(session, org, lock=True)
            if existing_user is not None and await self._membership(
                session, row["id"], existing_user.id
            ):
                raise AlreadyMemberError(
                    f"{address} belongs to a member of this organization already: "
                    "change their role with PATCH /orgs/{org}/members/{user} instead",
                    pattern_id=self.pattern_id,
                )
            # A new invitation to the same address replaces the pending one (a resend):
            # only the newest link works.
            await session.execute(
                sa.update(invitations)
                .where(
                    invitations.c.org_id == row["id"],
                    invitations.c.email == address,
                    invitations.c.accepted_at.is_(None),
                    invitations.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            invitation = Invitation(
                id=str(uuid.uuid4()),
                org_id=row["id"],
                email=address,
                role=role,
                invited_by=invited_by,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.invitation_ttl),
            )
            await session.execute(
                sa.insert(invitations).values(
                    id=invitation.id,
                    org_id=invitation.org_id,
                    email=address,
                    role=role,
                    token_hash=token_hash(token),
                    invited_by=invited_by,
                    created_at=now,
                    expires_at=invitation.expires_at,
                )
            )
            if self.jobs is not None and self.email_job is not None:
                # The job commits with the invitation. It issues the token it mails (the
                # plain token never sits in the queue), so the caller gets none back.
                await self.jobs.enqueue(
                    self.email_job, invitation.id, idempotency_key=f"invitation:{invitation.id}"
                )
                return IssuedInvitation(invitation, None)
            send = self._sender(_organization(row), invitation, token)
            if in_callers_transaction:
                # Inside the caller's unit of work: the email leaves only if it commits.
                self.db.on_commit(send)
                return IssuedInvitation(invitation, token)
        try:
            await send()
        except Exception:
            # Not sent: an invitation nobody received is withdrawn, and the caller learns
            # why (the mailer's error: 503 when its server is down).
            async with self.db.transaction() as session:
                await session.execute(
                    sa.update(invitations)
                    .where(invitations.c.id == invitation.id)
                    .values(revoked_at=utcnow())
                )
            raise
        return IssuedInvitation(invitation, token)

    async def run_invitation_email(self, invitation_id: str) -> None:
        """The invitation-email job: a fresh token for a still-pending invitation, mailed.

        Each run replaces the token (only the newest link works), so a retry after a failed
        send is safe; an invitation accepted, withdrawn or expired meanwhile gets no email.
        """
        token = secrets.token_urlsafe(32)
        async with self.db.transaction() as session:
            found = await _first(
                session, sa.select(invitations).where(invitations.c.id == invitation_id)
            )
            now = utcnow()
            if (
                found is None
                or found["accepted_at"] is not None
                or found["revoked_at"] is not None
                or found["expires_at"] <= now
            ):
                self.log.info("orgs.invitation_email_skipped", invitation=invitation_id)
                return
            org = await _first(
                session, sa.select(organizations).where(organizations.c.id == found["org_id"])
            )
            if org is None or org["deleted_at"] is not None:
                self.log.info("orgs.invitation_email_skipped", invitation=invitation_id)
                return
            await session.execute(
                sa.update(invitations)
                .where(invitations.c.id == invitation_id)
                .values(token_hash=token_hash(token))
            )
        await self._sender(_organization(org), _invitation(found), token)()

    def _sender(self, org: Organization, invitation: Invitation, token: str) -> Callable[[], Any]:
        async def send() -> None:
            inviter = await self.auth.get_user(invitation.invited_by)
            link = (
                self.settings.accept_url.replace("{token}", token)
                if self.settings.accept_url
                else None
            )
            await self.mailer.send_template(
                INVITATION_TEMPLATE,
                to=invitation.email,
                package=PACKAGE,
                context={
                    "app_name": self.app_name,
                    "org_name": org.name,
                    "inviter": inviter.email if inviter is not None else "A member",
                    "role": invitation.role,
                    "email": invitation.email,
                    "link": link,
                    "token": token,
                    "valid_for": duration_words(self.settings.invitation_ttl),
                },
            )

        return send

    async def invitations(self, org: str) -> list[Invitation]:
        now = utcnow()
        async with self.db.session() as session:
            row = await self._require(session, org)
            rows = await _all(
                session,
                sa.select(invitations)
                .where(
                    invitations.c.org_id == row["id"],
                    invitations.c.accepted_at.is_(None),
                    invitations.c.revoked_at.is_(None),
                    invitations.c.expires_at > now,
                )
                .order_by(invitations.c.created_at.desc(), invitations.c.id),
            )
        return [_invitation(r) for r in rows]

    async def revoke_invitation(self, org: str, invitation_id: str) -> None:
        async with self.db.transaction() as session:
            row = await self._require(session, org)
            result = await session.execute(
                sa.update(invitations)
                .where(
                    invitations.c.id == invitation_id,
                    invitations.c.org_id == row["id"],
                    invitations.c.accepted_at.is_(None),
                    invitations.c.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
        if not getattr(result, "rowcount", 0):
            raise InvitationNotFoundError(
                f"no pending invitation {invitation_id!r} in this organization: "
                "list them with GET /orgs/{org}/invitations",
                pattern_id=self.pattern_id,
            )

    async def accept_invitation(self, token: str, user_id: str, email: str) -> Membership:
        now = utcnow()
        async with self.db.transaction() as session:
            found = await _first(
                session,
                sa.select(invitations).where(invitations.c.token_hash == token_hash(token)),
            )
            if found is None:
                raise InvitationNotFoundError(
                    "no invitation has this token: "
                    "open the newest invitation email; ask for a new invitation",
                    pattern_id=self.pattern_id,
                )
            if found["accepted_at"] is not None or found["revoked_at"] is not None:
                raise InvitationSpentError(
                    "this invitation was used or withdrawn already: "
                    "invitations work once: ask an admin of the organization for a new one",
                    pattern_id=self.pattern_id,
                )
            if found["expires_at"] <= now:
                raise InvitationExpiredError(
                    "this invitation has expired: ask an admin of the organization for a new one",
                    pattern_id=self.pattern_id,
                )
            if canonical_email(email) != found["email"]:
                raise InvitationAccountMismatchError(
                    "this invitation was sent to another email address: "
                    "sign in with (or create) the account of the invited address",
                    pattern_id=self.pattern_id,
                )
            org = await self._find(session, found["org_id"], lock=True)
            if org is None:
                raise self._not_found(found["org_id"])
            # Spend it first, conditionally: of two concurrent accepts, one wins.
            spent = await session.execute(
                sa.update(invitations)
                .where(invitations.c.id == found["id"], invitations.c.accepted_at.is_(None))
                .values(accepted_at=now, accepted_by=user_id)
            )
            if not getattr(spent, "rowcount", 0):
                raise InvitationSpentError(
                    "this invitation was used already", pattern_id=self.pattern_id
                )
            membership = await self._add(session, org["id"], user_id, found["role"])
            self.events.emit(
                OrgEvent(
                    INVITATION_ACCEPTED,
                    org["id"],
                    user_id,
                    {"invitation_id": found["id"], "role": found["role"]},
                )
            )
        return membership

    def subscribe(self, event: str, handler: OrgEventHandler) -> Callable[[], None]:
        unsubscribe: Callable[[], None] = self.events.subscribe(event, handler)
        return unsubscribe


def _names(org: str) -> sa.ColumnElement[bool]:
    # An organization is named by its id or its slug; slugs never look like ids.
    return sa.or_(organizations.c.id == org, organizations.c.slug == org.lower())


def _name_params(org: str) -> dict[str, str]:
    """The parameters of :data:`_NAMED` for ``org`` (an id or a slug)."""
    return {"org_id": org, "org_slug": org.lower()}


# The reads CurrentOrg (and an organization's API key) make on every request, built once:
# a statement built per call costs more CPU than SQLite spends running it.
_NAMED = sa.or_(
    organizations.c.id == sa.bindparam("org_id"),
    organizations.c.slug == sa.bindparam("org_slug"),
)
_LIVE_BY_NAME = sa.select(organizations).where(_NAMED, organizations.c.deleted_at.is_(None))
_ACTIVE_MEMBERSHIP = (
    sa.select(organizations, members.c.role, members.c.joined_at)
    .join(members, members.c.org_id == organizations.c.id)
    .where(
        _NAMED,
        organizations.c.deleted_at.is_(None),
        members.c.user_id == sa.bindparam("user"),
    )
)


def _organization(row: Any) -> Organization:
    return Organization(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        created_at=row["created_at"],
        deleted_at=row["deleted_at"],
        purge_after=row["purge_after"],
        require_two_factor=bool(row["require_two_factor"]),
    )


def _membership(row: Any) -> Membership:
    return Membership(row["org_id"], row["user_id"], row["role"], row["joined_at"])


def _invitation(row: Any) -> Invitation:
    return Invitation(
        id=row["id"],
        org_id=row["org_id"],
        email=row["email"],
        role=row["role"],
        invited_by=row["invited_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


async def _first(
    session: AsyncSession, statement: Any, parameters: dict[str, Any] | None = None
) -> RowMapping | None:
    """The first row of ``statement`` (with ``parameters``) as a mapping, or ``None``."""
    return (await session.execute(statement, parameters)).mappings().first()


async def _all(session: AsyncSession, statement: Any) -> list[RowMapping]:
    """Every row of ``statement`` as mappings."""
    return list((await session.execute(statement)).mappings().all())
