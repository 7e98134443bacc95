"""Settings of ``api-keys``: the key prefix, the scopes keys may hold, lifetimes, limits."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from rainmaker import Settings
from rainmaker.capabilities.api_keys import MANAGE_SCOPE

_SCOPE = re.compile(r"^[A-Za-z0-9_.:*/-]{1,100}$")


class ApiKeySettings(Settings):
    """Unknown keys are errors; every field is documented for `rainmaker docs build`."""

    prefix: str = Field(
        "rk_live_",
        pattern=r"^[a-z][a-z0-9]{0,7}_([a-z0-9]{1,8}_)?$",
        description="Public start of every key ('rk_live_', 'rk_test_'): bearer tokens "
        "that start with it are API keys, anything else goes to the Auth provider.",
    )
    scopes: dict[str, str] = Field(
        default_factory=dict,
        description="Scopes a key may be given, with what each allows "
        "({ 'projects:write' = 'create projects' }). 'api-keys:manage' (manage keys) is "
        "always declared; a key asking for any other scope is refused at creation.",
    )
    max_keys: int = Field(
        50, gt=0, le=10_000, description="Most live (unrevoked) keys one owner may hold."
    )
    max_lifetime_days: int | None = Field(
        None,
        gt=0,
        description="Longest lifetime a key may be created with, in days; unset: keys may "
        "never expire.",
    )
    rotation_overlap: float = Field(
        86_400,
        ge=0,
        le=30 * 86_400,
        description="Default seconds the old key keeps working after POST "
        "/api-keys/{id}/rotate (the request may ask for less, never more than 30 days).",
    )
    touch_interval: float = Field(
        60,
        ge=0,
        description="Seconds between two writes of a key's last use (time and address): "
        "use within the interval is not written again, so a busy key costs no write per "
        "request.",
    )
    rate_limit_policy: str | None = Field(
        None,
        description="A policy of the composed rate-limit instance counted per key on every "
        "request a key authenticates (429 past it); unset: keys are not limited here.",
    )

    @field_validator("scopes")
    @classmethod
    def _scope_names(cls, value: dict[str, str]) -> dict[str, str]:
        for scope in value:
            if not _SCOPE.match(scope):
                raise ValueError(
                    f"scope {scope!r}: 1-100 letters, digits and _ . : * / - (no spaces)"
                )
        return value

    def known_scopes(self) -> frozenset[str]:
        """The declared scopes, ``api-keys:manage`` included."""
        return frozenset({*self.scopes, MANAGE_SCOPE})
