"""The success bodies of ``auth-jwt``'s routes, as models: what its OpenAPI declares.

Most of its handlers answer ready-made ``JSONResponse`` objects (``Cache-Control:
no-store`` on tokens); these models describe those bodies so a generated client parses
them, and ``GET /me`` and ``POST /verify`` serialise through :class:`UserAnswer`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from rainmaker.http import UtcTimestamp


class UserAnswer(BaseModel):
    """An account as the API shows it (``User.as_dict()``)."""

    id: str
    email: str
    roles: list[str]
    scopes: list[str]
    verified: bool
    disabled: bool
    created_at: UtcTimestamp = Field(description="UTC, with its offset.")
    updated_at: UtcTimestamp = Field(description="UTC, with its offset.")


class MessageAnswer(BaseModel):
    """An answer that only says what happens next (the same for every address)."""

    detail: str
