"""HTTP routes of ``organizations``: ``/orgs/…`` and ``/invitations/{token}/accept``.

A module-level router on the public HTTP API: the organization of a route comes from
``CurrentOrg``/``require_org_role`` (its ``{org}`` path parameter, id or slug), the
service from ``Inject(Organizations)``. Every route needs a signed-in user; a non-member
gets 404 for an organization, exactly as if it did not exist.

Who may do what: any member reads the organization and its members and may leave;
admins (and more powerful roles) rename it, change roles, remove members and manage
invitations; only owners delete it, transfer it, and grant, change or take away the
``owner`` role.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from rainmaker.capabilities.organizations import (
    ADMIN,
    MEMBER,
    OWNER,
    ActiveOrganization,
    MemberNotFoundError,
    Membership,
    OrganizationDirectory,
    Organizations,
    OrgRoleRequiredError,
    OrgTwoFactorRequiredError,
)
from rainmaker.http import (
    CurrentOrg,
    CurrentUser,
    Inject,
    request_identity,
    require_org_role,
    responses,
)
from rainmaker.patterns.organizations.answers import (
    AcceptedInvitation,
    InvitationAnswer,
    InvitationList,
    MemberList,
    MembershipAnswer,
    MyOrganization,
    OrganizationAnswer,
    OrganizationList,
)

Directory = Annotated[OrganizationDirectory, Inject(Organizations)]
AdminOrg = Annotated[ActiveOrganization, require_org_role(ADMIN)]
OwnerOrg = Annotated[ActiveOrganization, require_org_role(OWNER)]

ME = "me"
"""``/orgs/{org}/members/me``: the signed-in user (``DELETE`` on it is leaving)."""


class NewOrganization(BaseModel):
    """``POST /orgs``."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(min_length=1, max_length=63, examples=["acme-labs"])
    name: str = Field(min_length=1, max_length=200, examples=["Acme Labs"])


class OrganizationPatch(BaseModel):
    """``PATCH /orgs/{org}``: what changes."""

    model_config = ConfigDict(extra="forbid")

    slug: str | None = Field(default=None, min_length=1, max_length=63)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    require_two_factor: bool | None = Field(
        default=None,
        description="Members act in the organization only after a two-factor login.",
    )


class RoleChange(BaseModel):
    """``PATCH /orgs/{org}/members/{user}``."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(min_length=1, max_length=32)


class NewInvitation(BaseModel):
    """``POST /orgs/{org}/invitations``."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    role: str = Field(default=MEMBER, min_length=1, max_length=32)


class Transfer(BaseModel):
    """``POST /orgs/{org}/transfer``: the member who becomes the owner."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)


def _with_role(active: ActiveOrganization) -> dict[str, Any]:
    return {**active.organization.as_dict(), "role": active.role}


def _owner_only(org: ActiveOrganization, what: str) -> None:
    if org.role != OWNER:
        raise OrgRoleRequiredError(
            f"only an owner can {what}; your role in {org.organization.slug!r} is {org.role!r}"
        )


def _target(org: ActiveOrganization, user: str) -> str:
    return org.user_id if user == ME else user


async def _member(
    directory: OrganizationDirectory, org: ActiveOrganization, user_id: str
) -> Membership:
    found = await directory.membership(org.id, user_id)
    if found is None:
        raise MemberNotFoundError(
            f"user {user_id!r} is not a member of {org.organization.slug!r}",
            hint="list the members with GET /orgs/{org}/members",
        )
    return found


router = APIRouter(tags=["organizations"])


@router.post(
    "/orgs",
    status_code=201,
    summary="Create an organization (you become its owner)",
    response_model=MyOrganization,
    responses=responses(409),
)
async def create(body: NewOrganization, user: CurrentUser, directory: Directory) -> Any:
    """Create an organization with a unique slug; the caller becomes its owner. 409 when
    the slug is taken."""
    org = await directory.create(user.id, slug=body.slug, name=body.name)
    return {**org.as_dict(), "role": OWNER}


@router.get(
    "/orgs", summary="Your organizations, with your role in each", response_model=OrganizationList
)
async def mine(user: CurrentUser, directory: Directory) -> Any:
    """Every organization the caller belongs to, oldest membership first, with their role."""
    return {"organizations": [_with_role(a) for a in await directory.organizations_of(user.id)]}


@router.get(
    "/orgs/{org}",
    summary="One of your organizations (by id or slug)",
    response_model=MyOrganization,
)
async def read(org: CurrentOrg) -> Any:
    """One organization by id or slug, with the caller's role. 404 for an organization the
    caller is not a member of, exactly as for one that does not exist."""
    return _with_role(org)


@router.patch(
    "/orgs/{org}",
    summary="Rename an organization, change its slug or its two-factor requirement (admins)",
    response_model=MyOrganization,
    responses=responses(409),
)
async def update(
    body: OrganizationPatch, org: AdminOrg, directory: Directory, request: Request
) -> Any:
    """Change the name, the slug or ``require_two_factor`` (admins). Requiring two-factor
    authentication is refused from a session that did not use it, so its author keeps access."""
    if body.require_two_factor and not org.organization.require_two_factor:
        identity = await request_identity(request)
        if identity is None or "otp" not in identity.amr:
            # Turning it on from a session without a second factor would lock its author out.
            raise OrgTwoFactorRequiredError(
                "log in with two-factor authentication before requiring it of the organization"
            )
    updated = await directory.update(
        org.id, name=body.name, slug=body.slug, require_two_factor=body.require_two_factor
    )
    return {**updated.as_dict(), "role": org.role}


@router.delete(
    "/orgs/{org}",
    summary="Delete an organization (owners; purged after a grace)",
    response_model=OrganizationAnswer,
)
async def delete(org: OwnerOrg, directory: Directory) -> Any:
    """Delete the organization (owners): it stops answering at once and is purged with its
    memberships after ``deletion_grace``."""
    return (await directory.delete(org.id)).as_dict()


@router.post(
    "/orgs/{org}/transfer",
    summary="Make another member the owner (owners)",
    response_model=MemberList,
    responses=responses(409),
)
async def transfer(body: Transfer, org: OwnerOrg, directory: Directory) -> Any:
    """Make another member the owner; the caller stays on as an admin (an organization
    always keeps an owner)."""
    await directory.transfer_ownership(org.id, org.user_id, body.user_id)
    return {"members": [m.as_dict() for m in await directory.members(org.id)]}


@router.get("/orgs/{org}/members", summary="The members and their roles", response_model=MemberList)
async def members(org: CurrentOrg, directory: Directory) -> Any:
    """The members and their roles, owners first, then by the time they joined."""
    return {"members": [m.as_dict() for m in await directory.members(org.id)]}


@router.patch(
    "/orgs/{org}/members/{user}",
    summary="Change a member's role (admins)",
    response_model=MembershipAnswer,
    responses=responses(409),
)
async def change_role(user: str, body: RoleChange, org: AdminOrg, directory: Directory) -> Any:
    """Change a member's role (admins; granting or taking the owner role needs an owner).
    The change counts from the member's next request."""
    target = await _member(directory, org, _target(org, user))
    if OWNER in (target.role, body.role) and target.role != body.role:
        _owner_only(org, "grant or take away the owner role")
    changed = await directory.change_role(org.id, target.user_id, body.role)
    return changed.as_dict()


@router.delete(
    "/orgs/{org}/members/{user}",
    status_code=204,
    summary="Remove a member (admins), or leave (your own id, or 'me')",
)
async def remove(user: str, org: CurrentOrg, directory: Directory) -> Response:
    """Remove a member (admins; an owner only by an owner), or leave with your own id or
    ``me``. The last owner cannot leave: transfer the ownership first."""
    target = await _member(directory, org, _target(org, user))
    if target.user_id != org.user_id:
        if not directory.role_satisfies(org.role, ADMIN):
            raise OrgRoleRequiredError(
                f"removing another member requires the role 'admin' in "
                f"{org.organization.slug!r}; yours is {org.role!r}"
            )
        if target.role == OWNER:
            _owner_only(org, "remove an owner")
    await directory.remove_member(org.id, target.user_id)
    return Response(status_code=204)


@router.post(
    "/orgs/{org}/invitations",
    status_code=201,
    summary="Invite by email (admins)",
    response_model=InvitationAnswer,
    responses=responses(409),
)
async def invite(
    body: NewInvitation, org: AdminOrg, directory: Directory, user: CurrentUser
) -> Any:
    """Invite an email address with a role (admins). The single-use, expiring token goes to
    that address only; a newer invitation to it replaces a pending one. 409 for a member."""
    if body.role == OWNER:
        _owner_only(org, "invite an owner")
    issued = await directory.invite(org.id, body.email, role=body.role, invited_by=user.id)
    return issued.invitation.as_dict()  # the token goes to the invited address only


@router.get(
    "/orgs/{org}/invitations", summary="Pending invitations (admins)", response_model=InvitationList
)
async def pending(org: AdminOrg, directory: Directory) -> Any:
    """The invitations not accepted, withdrawn or expired yet (admins)."""
    return {"invitations": [i.as_dict() for i in await directory.invitations(org.id)]}


@router.delete(
    "/orgs/{org}/invitations/{invitation_id}",
    status_code=204,
    summary="Withdraw a pending invitation (admins)",
)
async def revoke(invitation_id: str, org: AdminOrg, directory: Directory) -> Response:
    """Withdraw a pending invitation: its token stops working (admins)."""
    await directory.revoke_invitation(org.id, invitation_id)
    return Response(status_code=204)


@router.post(
    "/invitations/{token}/accept",
    summary="Accept an invitation, signed in as the invited address",
    response_model=AcceptedInvitation,
    responses=responses(403, 409, 410),
)
async def accept(token: str, user: CurrentUser, directory: Directory) -> Any:
    """Join with an emailed invitation token, signed in with the address it was sent to.
    410 for an expired or spent token."""
    membership = await directory.accept_invitation(token, user.id, user.email)
    active = await directory.resolve(membership.org_id, user.id)
    return {"organization": _with_role(active), "membership": membership.as_dict()}
