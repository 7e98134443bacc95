"""Settings of ``organizations``: the roles an app declares, invitation and deletion times."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from rainmaker import Seconds, Settings
from rainmaker.capabilities.organizations import ADMIN, MEMBER, OWNER

_ROLE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
DAY = 86_400.0


class OrganizationsSettings(Settings):
    """Unknown keys are errors; every field is documented for ``rainmaker docs build``."""

    roles: list[str] = Field(
        default=[OWNER, ADMIN, MEMBER],
        description="Every role a member may have, most powerful first: 'owner' first, "
        "'admin' before 'member', the app's own roles where they rank (e.g. ['owner', "
        "'admin', 'billing', 'member', 'viewer']). A route requiring a role admits it and "
        "every role listed before it.",
    )
    invitation_ttl: Seconds = Field(
        default=7 * DAY, description="How long an invitation can be accepted, in seconds."
    )
    deletion_grace: Seconds = Field(
        default=30 * DAY,
        description="How long a deleted organization can be restored before it is purged "
        "with its members and invitations, in seconds.",
    )
    accept_url: str | None = Field(
        default=None,
        description="The page of your front end that accepts an invitation, with a "
        "'{token}' placeholder (e.g. 'https://app.example.com/invite/{token}'); the "
        "invitation email links to it. Unset: the email carries the token and the API "
        "route, POST /invitations/{token}/accept.",
    )
    purge_cron: str = Field(
        default="17 * * * *",
        description="When the purge of organizations past their grace period runs, as a "
        "cron expression, when a Jobs pattern is composed (without one it runs at start).",
    )
    app_name: str | None = Field(
        default=None,
        description="The name the invitation email gives the app; defaults to [app] name.",
    )

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: list[str]) -> list[str]:
        for role in roles:
            if not _ROLE.match(role):
                raise ValueError(
                    f"role {role!r}: use 1 to 32 lowercase letters, digits, '_' or '-', "
                    "starting with a letter"
                )
        if len(set(roles)) != len(roles):
            raise ValueError("each role may be listed once")
        missing = [role for role in (OWNER, ADMIN, MEMBER) if role not in roles]
        if missing:
            raise ValueError(f"the roles must include {', '.join(map(repr, missing))}")
        if roles[0] != OWNER or roles.index(ADMIN) > roles.index(MEMBER):
            raise ValueError(
                "list the roles most powerful first: 'owner' first, 'admin' before 'member'"
            )
        return roles

    @field_validator("accept_url")
    @classmethod
    def _accept_url(cls, url: str | None) -> str | None:
        if url is not None and "{token}" not in url:
            raise ValueError("the accept_url needs a '{token}' placeholder")
        return url
