"""The FastAPI integration: module-level routes that declare what they need by type.

A pattern's (or an app's) routes are an ordinary module-level ``APIRouter``; its module's
``router()`` returns it. Handlers ask for services, settings and the signed-in user with
FastAPI dependencies that resolve, per request, for the instance whose router contributed
the matched route — no closure over the module, no ``resolve()`` callback, and it works in
modules that use ``from __future__ import annotations``::

    from __future__ import annotations
    from typing import Annotated
    from fastapi import APIRouter
    from rainmaker.capabilities import Database
    from rainmaker.capabilities.database import SqlDatabase
    from rainmaker.http import CurrentUser, Inject, PatternSettings, require_roles

    router = APIRouter()

    @router.get("/notes")
    async def notes(
        user: CurrentUser,
        db: Annotated[SqlDatabase, Inject(Database)],
        settings: Annotated[NotesSettings, PatternSettings(NotesSettings)],
    ) -> dict[str, object]: ...

    @router.delete("/notes", dependencies=[require_roles("admin")])
    async def purge() -> None: ...

Names:

- :func:`Inject` ``(capability)`` — the service any :class:`rainmaker.Capability` (built-in
  or third-party) resolves to for the route's instance: the provider resolution bound it
  to, or the instance's own service for a capability its pattern provides. No provider
  composed: ``rainmaker check``/``plan``/``run`` report it (exit 2) before start; one that
  is not running answers 503 problem+json naming the capability and the patterns to add.
- :func:`PatternSettings` ``(SettingsClass)`` — the validated settings of the route's
  instance; two instances of one pattern, each mounted at its own prefix, each see theirs
  (and their own services through ``Inject``).
- ``CurrentUser``, ``OptionalUser``, ``Identity`` — ``Annotated`` aliases for the signed-in
  :class:`~rainmaker.capabilities.auth.User`, the same or ``None`` without credentials, and
  the verified token's :class:`~rainmaker.capabilities.auth.Identity`, served by whichever
  pattern provides ``Auth`` (401 problem+json without a valid token).
- :func:`require_roles` ``(*roles)`` / :func:`require_scopes` ``(*scopes)`` — dependencies
  refusing (403 problem+json) identities without one of the roles / all of the scopes.
- :func:`rate_limit` ``("policy", key=…)`` — a dependency counting the request under a
  named policy of the ``RateLimits`` provider (429 problem+json with ``Retry-After`` past
  it, ``RateLimit-*`` headers on every answer); see :mod:`rainmaker.http.rate_limits`.
- :func:`client_key` ``(address)`` / :func:`connection_client_key` ``(scope)`` — the
  canonical key of a client address for per-address limits: IPv4 as is, IPv4-mapped IPv6
  as IPv4, other IPv6 as its /64 (``ipv6_prefix=``), ports and spellings ignored; see
  :mod:`rainmaker.http.client_address`.
- :func:`request_identity` — the identity the request's credential acts as, or ``None``
  (never a refusal). The auth dependencies also accept ``X-API-Key`` and credentials of a
  composed ``Credentials`` provider (API keys); see :mod:`rainmaker.http.auth`.
- :func:`bearer_scheme`, :class:`AuthGuards`, :func:`auth_guards` — the bearer scheme the
  guards share, and the earlier closure-style guards (moved here from
  ``rainmaker.capabilities.auth``, which keeps deprecated aliases for one minor release).
- ``CurrentOrg`` / :func:`require_org_role` ``(*roles)`` — the request's organization
  (``{org}`` path parameter or ``X-Organization`` header) and the user's membership, read
  per request from whichever pattern provides ``Organizations`` (404 for non-members,
  403 ``org_role_required`` for a weaker role); ``CurrentOrgOrFirst`` falls back to the
  user's first organization when the request names none; see
  :mod:`rainmaker.http.organizations`.
- :func:`responses` ``(*errors)`` / :func:`raises` ``(*errors)`` — declare the
  problem+json errors a route (or a dependency, for every route using it) can answer;
  :func:`binary_response` / :func:`binary_body` a download's or an upload's raw bytes, so
  the OpenAPI document says what the server does; :class:`ProblemDetails` is the error
  body's model and ``UtcTimestamp`` a response model's always-UTC timestamp (see
  :mod:`rainmaker.http.responses`).
- For apps that compose HTTP (``framework-fastapi``, or another Http pattern):
  :class:`RouteOwners`, :class:`RouteOwner`, :data:`STATE_KEY` record which instance owns
  each route and hand that table to requests; :func:`injection_report` checks the routes'
  injections before start; :func:`injections` lists the markers in a dependency tree.
"""

from rainmaker.http.auth import (
    AuthGuards,
    BearerToken,
    CurrentUser,
    Identity,
    OptionalUser,
    auth_guards,
    bearer_scheme,
    request_identity,
    require_roles,
    require_scopes,
)
from rainmaker.http.checks import InjectionReport, RouteDependencies, injection_report
from rainmaker.http.client_address import client_key, connection_client_key
from rainmaker.http.inject import Inject, Injection, PatternSettings, injection_of, injections
from rainmaker.http.organizations import CurrentOrg, CurrentOrgOrFirst, require_org_role
from rainmaker.http.owners import STATE_KEY, RouteOwner, RouteOwners, owner_for
from rainmaker.http.rate_limits import rate_limit
from rainmaker.http.responses import (
    PROBLEM_JSON,
    FieldProblem,
    ProblemDetails,
    UtcTimestamp,
    binary_body,
    binary_response,
    raises,
    responses,
)

__all__ = [
    "PROBLEM_JSON",
    "STATE_KEY",
    "AuthGuards",
    "BearerToken",
    "CurrentOrg",
    "CurrentOrgOrFirst",
    "CurrentUser",
    "FieldProblem",
    "Identity",
    "Inject",
    "Injection",
    "InjectionReport",
    "OptionalUser",
    "PatternSettings",
    "ProblemDetails",
    "RouteDependencies",
    "RouteOwner",
    "RouteOwners",
    "UtcTimestamp",
    "auth_guards",
    "bearer_scheme",
    "binary_body",
    "binary_response",
    "client_key",
    "connection_client_key",
    "injection_of",
    "injection_report",
    "injections",
    "owner_for",
    "raises",
    "rate_limit",
    "request_identity",
    "require_org_role",
    "require_roles",
    "require_scopes",
    "responses",
]
