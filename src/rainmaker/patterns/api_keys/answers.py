"""The JSON bodies of the API-key routes, as models: what their OpenAPI declares.

They mirror ``ApiKey.as_dict()`` and ``IssuedKey.as_dict()`` (the handlers return those
dicts; FastAPI validates them against these models), with ``org_id`` on an
organization's keys.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from rainmaker.http import UtcTimestamp


class ApiKeyAnswer(BaseModel):
    """An API key as listed: never its secret."""

    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    scopes: list[str]
    created_at: UtcTimestamp | None
    expires_at: UtcTimestamp | None
    last_used_at: UtcTimestamp | None
    last_used_from: str | None
    revoked_at: UtcTimestamp | None
    rotated_from: str | None
    org_id: str | None = Field(None, description="The organization owning the key, if any.")


class IssuedKeyAnswer(ApiKeyAnswer):
    """A new key, with its secret: shown this once."""

    key: str = Field(description="The secret to send as X-API-Key (or a bearer token).")


class ApiKeyList(BaseModel):
    """The caller's (or the organization's) keys."""

    api_keys: list[ApiKeyAnswer]
