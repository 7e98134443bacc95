"""The organization-key routes of ``api-keys``: ``/orgs/{org}/api-keys``.

The same four routes as ``/api-keys`` (create — the answer holds the key once, in
``key`` —, list, revoke, rotate with overlap), for keys the *organization* owns: they
authenticate as the organization itself (``CurrentOrg`` is that organization, with no
header needed; the key's scopes, no roles), so they keep working when the member who
created them leaves.

Only the organization's owners and admins manage them (``require_org_role("admin")``,
read on every request: a member removed or demoted cannot manage them from the next
request, and a removed member's answer is 404 like any non-member's). They may do so with
an access token or with a personal key scoped ``api-keys:manage`` (which may only hand out
scopes it holds); an organization's own key holds no role, so it manages no keys.

No ``from __future__ import annotations``: FastAPI reads these annotations at runtime.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, Security

from rainmaker.capabilities.organizations import ADMIN, ActiveOrganization, org_principal
from rainmaker.http import CurrentUser, bearer_scheme, require_org_role
from rainmaker.patterns.api_keys.answers import ApiKeyList, IssuedKeyAnswer
from rainmaker.patterns.api_keys.routes import (
    Config,
    KeyManager,
    NewKey,
    Rotation,
    Store,
    issue_key,
    key_manager,
    list_keys_of,
    rotate_key_of,
)


class OrgKeyManager:
    """An owner or admin of the organization, managing the organization's keys."""

    def __init__(self, org: ActiveOrganization, manager: KeyManager) -> None:
        self.org = org
        self.manager = manager

    @property
    def owner_id(self) -> str:
        """What the organization's keys are stored under (and authenticate as)."""
        return org_principal(self.org.id)

    @property
    def tags(self) -> dict[str, str]:
        """What every answer about the organization's keys adds: whose they are."""
        return {"org_id": self.org.id}


async def org_key_manager(
    org: Annotated[ActiveOrganization, require_org_role(ADMIN)],
    user: CurrentUser,
    credential: Annotated[str, Security(bearer_scheme())],
    settings: Config,
) -> OrgKeyManager:
    # The role check ran first (an org key fails it: it is a plain member); a personal key
    # still needs api-keys:manage and may grant only what it holds.
    return OrgKeyManager(org, await key_manager(user, credential, settings))


OrgManager = Annotated[OrgKeyManager, Depends(org_key_manager)]

org_router = APIRouter(prefix="/orgs/{org}/api-keys", tags=["api-keys"])


@org_router.post(
    "",
    status_code=201,
    summary="Create an organization API key (shown once)",
    response_model=IssuedKeyAnswer,
)
async def create_org_key(body: NewKey, manager: OrgManager, store: Store) -> dict[str, Any]:
    """Create a key that acts as the organization itself (owners and admins): its own
    scopes, no roles, unaffected by its creator leaving. Shown once."""
    return await issue_key(store, manager.manager, manager.owner_id, body, manager.tags)


@org_router.get(
    "", summary="The organization's API keys (never their secrets)", response_model=ApiKeyList
)
async def list_org_keys(manager: OrgManager, store: Store) -> dict[str, Any]:
    """The organization's keys (owners and admins); never a secret."""
    return await list_keys_of(store, manager.owner_id, manager.tags)


@org_router.delete("/{key_id}", status_code=204, summary="Revoke an organization API key")
async def revoke_org_key(key_id: str, manager: OrgManager, store: Store) -> Response:
    """Revoke an organization key at once (owners and admins)."""
    await store.revoke(manager.owner_id, key_id)
    return Response(status_code=204)


@org_router.post(
    "/{key_id}/rotate",
    status_code=201,
    summary="Replace an organization API key; the old one works for the overlap",
    response_model=IssuedKeyAnswer,
)
async def rotate_org_key(
    key_id: str,
    manager: OrgManager,
    store: Store,
    settings: Config,
    body: Rotation | None = None,
) -> dict[str, Any]:
    """Replace an organization key; the old one works for the overlap (owners and admins)."""
    return await rotate_key_of(store, settings, manager.owner_id, key_id, body, manager.tags)
