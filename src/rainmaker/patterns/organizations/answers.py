"""The JSON bodies of the organization routes, as models: what their OpenAPI declares.

They mirror the ``as_dict()`` forms of :mod:`rainmaker.capabilities.organizations`
(the handlers return those dicts; FastAPI validates them against these models).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from rainmaker.http import UtcTimestamp


class OrganizationAnswer(BaseModel):
    """An organization."""

    id: str
    slug: str
    name: str
    created_at: UtcTimestamp
    deleted_at: UtcTimestamp | None = None
    purge_after: UtcTimestamp | None = Field(None, description="When a deletion is final.")
    require_two_factor: bool = False


class MyOrganization(OrganizationAnswer):
    """An organization with the caller's role in it."""

    role: str


class OrganizationList(BaseModel):
    """The caller's organizations."""

    organizations: list[MyOrganization]


class MembershipAnswer(BaseModel):
    """A member and their role."""

    org_id: str
    user_id: str
    role: str
    joined_at: UtcTimestamp


class MemberList(BaseModel):
    """An organization's members."""

    members: list[MembershipAnswer]


class InvitationAnswer(BaseModel):
    """A pending invitation (never its token)."""

    id: str
    org_id: str
    email: str
    role: str
    invited_by: str
    created_at: UtcTimestamp
    expires_at: UtcTimestamp


class InvitationList(BaseModel):
    """An organization's pending invitations."""

    invitations: list[InvitationAnswer]


class AcceptedInvitation(BaseModel):
    """The organization joined and the new membership."""

    organization: MyOrganization
    membership: MembershipAnswer
