"""The HTTP routes of ``api-keys``, module level, under the instance's mount (``/api-keys``).

- ``POST /api-keys`` — a new key; the answer holds it once, in ``key``;
- ``GET /api-keys`` — your keys (never a secret);
- ``DELETE /api-keys/{id}`` — revoke one at once;
- ``POST /api-keys/{id}/rotate`` — a new key replacing it; the old one works for the
  overlap (``{"overlap": seconds}``, default ``rotation_overlap``).

Any of the caller's credentials works, but a request authenticated *by an API key* needs
the ``api-keys:manage`` scope here, and may only hand out scopes it holds itself (403
``api_key_scope_required``): a leaked narrow key cannot mint a wider one.

No ``from __future__ import annotations``: FastAPI reads these annotations at runtime.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, Security
from pydantic import BaseModel, ConfigDict, Field

from rainmaker.capabilities.api_keys import (
    MANAGE_SCOPE,
    ApiKeys,
    ApiKeyScopeRequiredError,
    ApiKeyStore,
)
from rainmaker.capabilities.auth import User
from rainmaker.capabilities.organizations import principal_org
from rainmaker.http import CurrentUser, Inject, PatternSettings, bearer_scheme, responses
from rainmaker.patterns.api_keys.answers import ApiKeyList, IssuedKeyAnswer
from rainmaker.patterns.api_keys.settings import ApiKeySettings

Store = Annotated[ApiKeyStore, Inject(ApiKeys)]
Config = Annotated[ApiKeySettings, PatternSettings(ApiKeySettings)]


class KeyManager:
    """Who manages keys in this request: the user, and the calling key's scopes if a key."""

    def __init__(self, user: User, key_scopes: frozenset[str] | None) -> None:
        self.user = user
        self.key_scopes = key_scopes

    def may_grant(self, scopes: list[str]) -> None:
        """Refuse a key handing out scopes it does not hold."""
        if self.key_scopes is None:
            return
        wider = sorted(set(scopes) - self.key_scopes)
        if wider:
            raise ApiKeyScopeRequiredError(
                f"an API key may only grant scopes it holds; this one lacks "
                f"{', '.join(map(repr, wider))}",
                pattern_id="api-keys",
            )


async def key_manager(
    user: CurrentUser,
    credential: Annotated[str, Security(bearer_scheme())],
    settings: Config,
) -> KeyManager:
    if not credential.startswith(settings.prefix):
        return KeyManager(user, None)  # an access token: the account itself
    if principal_org(user.id) is not None:
        # An organization's key acts for the organization, which holds no role: its keys
        # are managed by its owners and admins (org_routes), never by one of them.
        raise ApiKeyScopeRequiredError(
            "an organization's API key manages no keys; the organization's owners and "
            "admins manage them at /orgs/{org}/api-keys",
            pattern_id="api-keys",
        )
    scopes = frozenset(user.scopes)  # a key's user carries the key's scopes
    if MANAGE_SCOPE not in scopes:
        raise ApiKeyScopeRequiredError(
            f"an API key needs the scope {MANAGE_SCOPE!r} to manage API keys",
            pattern_id="api-keys",
        )
    return KeyManager(user, scopes)


Manager = Annotated[KeyManager, Depends(key_manager)]


class NewKey(BaseModel):
    """The body of ``POST /api-keys``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="What the key is for.")
    scopes: list[str] = Field(default_factory=list, description="Declared scopes only.")
    expires_at: datetime | None = Field(None, description="When the key stops working.")


class Rotation(BaseModel):
    """The body of ``POST /api-keys/{id}/rotate`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    overlap: float | None = Field(
        None, ge=0, description="Seconds the old key keeps working (default: the setting)."
    )


def as_utc(moment: datetime | None) -> datetime | None:
    """A client's time as aware UTC (a naive time is taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# What the personal routes below and the organization's (org_routes) do, parametrised by
# the owner the keys are stored under and the fields its answers add (an org's ``org_id``).


async def issue_key(
    store: ApiKeyStore,
    manager: KeyManager,
    owner_id: str,
    body: NewKey,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A new key of ``owner_id``'s, within the scopes ``manager`` may grant."""
    manager.may_grant(body.scopes)
    issued = await store.create(
        owner_id, body.name, body.scopes, expires_at=as_utc(body.expires_at)
    )
    return {**issued.as_dict(), **(tags or {})}


async def list_keys_of(
    store: ApiKeyStore, owner_id: str, tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``owner_id``'s keys, as the ``ApiKeyList`` answer (never a secret)."""
    found = await store.list_for(owner_id)
    return {"api_keys": [{**key.as_dict(), **(tags or {})} for key in found]}


async def rotate_key_of(
    store: ApiKeyStore,
    settings: ApiKeySettings,
    owner_id: str,
    key_id: str,
    body: Rotation | None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Replace one of ``owner_id``'s keys; the old one works for the overlap asked for,
    at most ``rotation_overlap`` (the default)."""
    overlap = body.overlap if body is not None and body.overlap is not None else None
    if overlap is None:
        overlap = settings.rotation_overlap
    issued = await store.rotate(owner_id, key_id, overlap=min(overlap, settings.rotation_overlap))
    return {**issued.as_dict(), **(tags or {})}


router = APIRouter(tags=["api-keys"])


@router.post(
    "",
    status_code=201,
    summary="Create an API key (the answer shows it once)",
    response_model=IssuedKeyAnswer,
    responses=responses(403),
)
async def create_key(body: NewKey, manager: Manager, store: Store) -> dict[str, Any]:
    """Create a personal key with a name, declared scopes (no more than the caller holds)
    and an optional expiry. The ``key`` member shows the secret this once; only its hash
    and public prefix are kept."""
    return await issue_key(store, manager, manager.user.id, body)


@router.get("", summary="Your API keys (never their secrets)", response_model=ApiKeyList)
async def list_keys(manager: Manager, store: Store) -> dict[str, Any]:
    """The caller's keys: prefix, name, scopes, expiry, last use; never a secret."""
    return await list_keys_of(store, manager.user.id)


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key at once")
async def revoke_key(key_id: str, manager: Manager, store: Store) -> Response:
    """Revoke a key: it stops authenticating with the next request."""
    await store.revoke(manager.user.id, key_id)
    return Response(status_code=204)


@router.post(
    "/{key_id}/rotate",
    status_code=201,
    summary="Replace an API key; the old one works for the overlap",
    response_model=IssuedKeyAnswer,
)
async def rotate_key(
    key_id: str,
    manager: Manager,
    store: Store,
    settings: Config,
    body: Rotation | None = None,
) -> dict[str, Any]:
    """A new key with the same name and scopes; the old one keeps working for the overlap
    (``overlap`` seconds, else the setting), so deployed clients can switch over."""
    return await rotate_key_of(store, settings, manager.user.id, key_id, body)
