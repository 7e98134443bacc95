"""Declaration of the ``oauth-login`` pattern (light: no SQLAlchemy, FastAPI or Authlib)."""

from __future__ import annotations

from pathlib import Path

from rainmaker import DocsSection, Pattern
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.database import Database
from rainmaker.patterns.oauth_login.settings import OAuthLoginSettings

GUIDE = DocsSection(
    "Signing in with providers", (Path(__file__).parent / "oauth.md").read_text("utf-8")
)

oauth_login: Pattern[OAuthLoginSettings] = Pattern(
    id="oauth-login",
    version="0.1.0",
    name="OAuth login",
    description="Sign in with any OpenID Connect provider (by issuer discovery) and the "
    "Google, Microsoft, GitLab and GitHub presets: authorization code with PKCE, state "
    "and nonce, ID tokens checked against the provider's rotating JWKS; linked identities "
    "listed and unlinked; new users made through Auth (its signup hooks run); a one-time "
    "code for the front end, never a token in a URL.",
    settings=OAuthLoginSettings,
    factory="rainmaker.patterns.oauth_login.module:OAuthLoginModule",
    # 1.1: accounts without a password (create_user(None), has_password).
    # 1.2: sign_in(user, method=...), so a provider sign-in meets the account's 2FA policy.
    requires=[Database, Auth.within(">=1.2,<2")],
    mount="/auth",
    migrations="rainmaker.patterns.oauth_login.migrations",
    table_prefix="oauth_",
    docs=[GUIDE],
    examples=[
        {
            "clients": {"corp": {"issuer": "https://id.example.com", "client_id": "rainmaker"}},
            "allowed_origins": ["https://app.example.com"],
        },
        {
            "public_url": "https://api.example.com",
            "allowed_origins": ["https://app.example.com"],
            "clients": {
                "google": {"preset": "google", "client_id": "123.apps.googleusercontent.com"},
                "github": {"preset": "github", "client_id": "Iv1.abc", "label": "GitHub"},
                "microsoft": {"preset": "microsoft", "client_id": "c0ffee", "tenant": "t-1"},
                "gitlab": {"preset": "gitlab", "client_id": "gl-app"},
            },
        },
    ],
)
