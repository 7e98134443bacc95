"""The errors ``organizations`` answers with, each a stable code in problem+json.

They are defined with the capability (:mod:`rainmaker.capabilities.organizations`), since
every ``Organizations`` provider raises the same ones and callers catch them by type; this
module names them for readers of the pattern:

================================  ======  =====================================================
code                              status  when
================================  ======  =====================================================
``org_not_found``                 404     no such organization, or the user is not a member
``org_required``                  422     a route acting in an organization names none
``org_role_required``             403     the member's role is not enough for the route
``org_role_unknown``              422     a role the app did not declare in ``roles``
``org_slug_invalid``              422     a slug that is not 2 to 63 lowercase letters, digits, -
``org_slug_taken``                409     another organization has the slug
``org_last_owner``                409     removing or demoting the last owner
``org_member_not_found``          404     the user is not a member
``org_already_member``            409     adding or inviting someone who is a member
``org_invitation_not_found``      404     no invitation has this token (or id)
``org_invitation_expired``        410     the invitation's time ran out
``org_invitation_spent``          410     the invitation was accepted or withdrawn already
``org_invitation_other_account``  403     signed in as another address than the invited one
================================  ======  =====================================================
"""

from __future__ import annotations

from rainmaker.capabilities.organizations import (
    AlreadyMemberError,
    InvitationAccountMismatchError,
    InvitationExpiredError,
    InvitationNotFoundError,
    InvitationSpentError,
    LastOwnerError,
    MemberNotFoundError,
    OrganizationNotFoundError,
    OrganizationRequiredError,
    OrgRoleRequiredError,
    SlugInvalidError,
    SlugTakenError,
    UnknownRoleError,
)

__all__ = [
    "AlreadyMemberError",
    "InvitationAccountMismatchError",
    "InvitationExpiredError",
    "InvitationNotFoundError",
    "InvitationSpentError",
    "LastOwnerError",
    "MemberNotFoundError",
    "OrgRoleRequiredError",
    "OrganizationNotFoundError",
    "OrganizationRequiredError",
    "SlugInvalidError",
    "SlugTakenError",
    "UnknownRoleError",
]
