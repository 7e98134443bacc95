"""Presets: what is known about well-known providers, so an app writes only its client id.

A preset is configuration, not code: OpenID Connect providers (Google, Microsoft, GitLab)
are reached by discovery from their issuer like any other; GitHub has no OpenID Connect
for apps, so its endpoints and its user and verified-email API are named here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """Defaults of one provider kind; ``issuer`` may hold ``{tenant}``."""

    issuer: str | None
    scopes: tuple[str, ...]
    # OAuth 2 without OpenID Connect (GitHub): endpoints and the profile API.
    authorize_url: str | None = None
    token_url: str | None = None
    user_url: str | None = None
    emails_url: str | None = None

    @property
    def oidc(self) -> bool:
        """Whether the provider is reached by OpenID Connect discovery."""
        return self.user_url is None


OIDC_SCOPES = ("openid", "email", "profile")

PRESETS: dict[str, Preset] = {
    "oidc": Preset(issuer=None, scopes=OIDC_SCOPES),
    "google": Preset(issuer="https://accounts.google.com", scopes=OIDC_SCOPES),
    # A tenant id ("common"/"organizations" is *not* enough: their issuer is
    # templated per tenant, so the ID token's iss could not be checked).
    "microsoft": Preset(
        issuer="https://login.microsoftonline.com/{tenant}/v2.0", scopes=OIDC_SCOPES
    ),
    "gitlab": Preset(issuer="https://gitlab.com", scopes=OIDC_SCOPES),
    "github": Preset(
        issuer=None,
        scopes=("read:user", "user:email"),
        authorize_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",
        user_url="https://api.github.com/user",
        emails_url="https://api.github.com/user/emails",
    ),
}
