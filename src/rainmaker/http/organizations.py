"""The active organization of a request, served by whichever pattern provides ``Organizations``.

- ``CurrentOrg`` — ``Annotated[ActiveOrganization, …]``: the organization named by the
  route's ``{org}`` path parameter or, on routes without one, by the ``X-Organization``
  header (an id or a slug), with the signed-in user's membership of it. Both are read from
  the provider on every request, so a removal or a role change counts from the next
  request (no role is trusted from a token). An organization the user is not a member of
  answers 404 ``org_not_found``, exactly like one that does not exist, so ids don't leak;
  no organization named answers 422 ``org_required``.
- ``CurrentOrgOrFirst`` — the same, except that a request naming no organization acts in
  the user's first one (their oldest membership: the personal organization an app creates
  at signup) instead of answering 422.
- An organization with ``require_two_factor`` refuses (403 ``org_two_factor_required``)
  requests whose token does not carry ``otp`` in its ``amr`` claim (no second factor at
  login), through ``CurrentOrg`` and every guard built on it.
- ``require_org_role(*roles)`` — the same, refusing (403 ``org_role_required``) members
  whose role is not one of ``roles`` or more powerful than one of them (roles are ordered
  by the provider's settings: ``owner`` > ``admin`` > ``member`` by default).

Like ``CurrentUser`` these resolve through the route owner's view of the services, so any
pattern's or app's module-level routes can use them::

    @router.get("/projects")
    async def projects(org: CurrentOrg) -> ...

    @router.delete("/projects/{id}", dependencies=[require_org_role("admin")])
    async def delete(id: str) -> ...

This module does not use ``from __future__ import annotations``: FastAPI reads the
annotations of the dependencies below at runtime.
"""

import functools
from typing import Annotated, Any, TypeAlias

from fastapi import Depends
from starlette.requests import HTTPConnection

from rainmaker.capabilities.organizations import (
    ORG_HEADER,
    ActiveOrganization,
    OrganizationDirectory,
    OrganizationRequiredError,
    Organizations,
    OrgRoleRequiredError,
    OrgTwoFactorRequiredError,
    principal_org,
)
from rainmaker.http.auth import CurrentUser, request_identity
from rainmaker.http.inject import Injection, mark
from rainmaker.http.owners import owner_for
from rainmaker.http.responses import raises

ORG_PATH_PARAMETER = "org"
"""The path parameter naming the active organization: ``/orgs/{org}/…``."""


def _directory(connection: HTTPConnection) -> OrganizationDirectory:
    return owner_for(connection.scope).require(Organizations)


def _org_reference(connection: HTTPConnection, user_id: str) -> str | None:
    named = connection.path_params.get(ORG_PATH_PARAMETER)
    if named is None:
        named = connection.headers.get(ORG_HEADER)
    if named is None:
        # An organization's own credential (its API key) acts in that organization.
        named = principal_org(user_id)
    return str(named).strip() if named is not None and str(named).strip() else None


async def _resolve(
    connection: HTTPConnection, user_id: str, *, first_by_default: bool
) -> ActiveOrganization:
    directory = _directory(connection)
    named = _org_reference(connection, user_id)
    if named is not None:
        active = await directory.resolve(named, user_id)
    elif first_by_default and (mine := await directory.organizations_of(user_id)):
        active = mine[0]  # oldest membership first
    else:
        raise OrganizationRequiredError(
            f"this route acts in an organization: send its id or slug in the {ORG_HEADER} header"
            + ("" if not first_by_default else " (you belong to none: POST /orgs creates one)")
        )
    await _check_two_factor(connection, user_id, active)
    return active


async def _check_two_factor(
    connection: HTTPConnection, user_id: str, active: ActiveOrganization
) -> None:
    if active.organization.require_two_factor and principal_org(user_id) is None:
        # Read from the token, not the account: a session that skipped the second factor
        # (or a personal API key) must not act here, even for a user who has one. An
        # organization's own key is its machine credential and acts as before.
        identity = await request_identity(connection)
        if identity is None or "otp" not in identity.amr:
            raise OrgTwoFactorRequiredError(
                f"organization {active.organization.slug!r} requires two-factor "
                "authentication: enable it on your account and log in with a code"
            )


@raises(OrganizationRequiredError, 404, OrgTwoFactorRequiredError)
async def _current_org(connection: HTTPConnection, user: CurrentUser) -> ActiveOrganization:
    return await _resolve(connection, user.id, first_by_default=False)


@raises(OrganizationRequiredError, 404, OrgTwoFactorRequiredError)
async def _current_org_or_first(
    connection: HTTPConnection, user: CurrentUser
) -> ActiveOrganization:
    return await _resolve(connection, user.id, first_by_default=True)


mark(_current_org, Injection(capability=Organizations))
mark(_current_org_or_first, Injection(capability=Organizations))

CurrentOrg: TypeAlias = Annotated[ActiveOrganization, Depends(_current_org)]
"""The request's organization and the signed-in user's membership (404 for non-members)."""

CurrentOrgOrFirst: TypeAlias = Annotated[ActiveOrganization, Depends(_current_org_or_first)]
"""As :data:`CurrentOrg`, but a request naming no organization acts in the user's first."""


@functools.cache
def require_org_role(*roles: str) -> Any:
    """A dependency passing members whose role is one of ``roles`` or more powerful (403).

    ``dependencies=[require_org_role("admin")]``, or ``Annotated[ActiveOrganization,
    require_org_role("admin")]`` to receive the organization too.
    """
    if not roles:
        raise ValueError("require_org_role() needs at least one role")
    wanted = " or ".join(repr(role) for role in roles)

    @raises(OrgRoleRequiredError)
    async def org_role_guard(connection: HTTPConnection, org: CurrentOrg) -> ActiveOrganization:
        directory = _directory(connection)
        unknown = [role for role in roles if role not in directory.roles]
        if unknown:
            # A route written against roles the app did not declare: a bug, not bad input.
            raise RuntimeError(
                f"require_org_role({', '.join(map(repr, roles))}): {', '.join(unknown)} "
                f"is not a declared role ({', '.join(directory.roles)})"
            )
        if not directory.role_satisfies(org.role, *roles):
            raise OrgRoleRequiredError(
                f"this route requires the role {wanted} in organization "
                f"{org.organization.slug!r}; yours is {org.role!r}"
            )
        return org

    mark(org_role_guard, Injection(capability=Organizations))
    return Depends(org_role_guard)
