"""Settings of ``oauth-login``: the providers, where users may be sent back, lifetimes."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from rainmaker import Settings
from rainmaker.patterns.oauth_login.presets import PRESETS, Preset

PresetName = Literal["oidc", "google", "github", "microsoft", "gitlab"]


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, else ``None``."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


class ProviderSettings(Settings):
    """One provider of ``[patterns.<instance>.clients.<name>]``."""

    preset: PresetName = Field(
        "oidc",
        description="Kind of provider: 'oidc' (any OpenID Connect issuer, by discovery), "
        "'google', 'microsoft', 'gitlab' (OpenID Connect with a known issuer) or 'github' "
        "(OAuth 2 with its user and verified-email API).",
    )
    issuer: str | None = Field(
        None,
        description="OpenID Connect issuer URL; its /.well-known/openid-configuration is "
        "read. Required for 'oidc', preset for the others.",
    )
    tenant: str | None = Field(
        None, description="Microsoft Entra tenant id (required by the 'microsoft' preset)."
    )
    client_id: str = Field(min_length=1, description="The client id registered at the provider.")
    client_secret: SecretStr | None = Field(
        None,
        description="The client secret (keep it in the environment: "
        "RAINMAKER__<INSTANCE>__CLIENTS__<NAME>__CLIENT_SECRET); unset: a public client "
        "(PKCE only).",
    )
    scopes: list[str] | None = Field(
        None, description="Scopes asked for; unset: the preset's ('openid email profile')."
    )
    label: str | None = Field(None, description="Name shown to users ('Sign in with …').")

    @field_validator("client_secret")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # "${SECRET:-}" in a composition: an unset variable means a public client.
        return None if value is not None and not value.get_secret_value() else value

    @model_validator(mode="after")
    def _complete(self) -> ProviderSettings:
        if self.preset == "oidc" and not self.issuer:
            raise ValueError("an 'oidc' provider needs its issuer URL")
        if self.preset == "microsoft" and not self.tenant and not self.issuer:
            raise ValueError("the 'microsoft' preset needs tenant (the Entra tenant id)")
        if self.issuer is not None and origin_of(self.issuer) is None:
            raise ValueError(f"issuer {self.issuer!r} is not an http(s) URL")
        return self

    def resolved(self) -> Preset:
        """The preset with this provider's issuer and scopes applied."""
        base = PRESETS[self.preset]
        issuer = self.issuer or (
            base.issuer.format(tenant=self.tenant or "") if base.issuer else None
        )
        scopes = tuple(self.scopes) if self.scopes is not None else base.scopes
        return Preset(
            issuer=issuer.rstrip("/") if issuer else None,
            scopes=scopes,
            authorize_url=base.authorize_url,
            token_url=base.token_url,
            user_url=base.user_url,
            emails_url=base.emails_url,
        )


class OAuthLoginSettings(Settings):
    """Unknown keys are errors; every field is documented for `rainmaker docs build`."""

    clients: dict[str, ProviderSettings] = Field(
        default_factory=dict,
        description="The providers users may sign in with (the OAuth client registered at "
        "each), by the name used in the routes "
        "(/auth/oauth/{name}/authorize).",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public base URL of this app: the redirect URI registered at each "
        "provider is <public_url><mount>/oauth/<name>/callback.",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins a 'next' URL may point to (the front end, "
        "'https://app.example.com'); public_url's origin is always allowed.",
    )
    allow_unverified_email: bool = Field(
        False,
        description="Make an account (unverified) for an address the provider does not "
        "vouch for; off: such a sign-in is refused (403 oauth_email_unverified), since the "
        "address may be someone else's. An unverified address never links to an account.",
    )
    flow_ttl: float = Field(
        600, gt=0, le=3600, description="Seconds a started sign-in may take to come back."
    )
    exchange_code_ttl: float = Field(
        60,
        gt=0,
        le=600,
        description="Seconds the one-time code handed to the front end stays valid.",
    )
    provider_timeout: float = Field(
        10, gt=0, le=60, description="Seconds to wait for a provider's answer."
    )
    clock_leeway: int = Field(
        60, ge=0, le=300, description="Seconds of clock skew allowed on ID token times."
    )
    secure_cookie: bool = Field(
        True,
        description="Mark the browser-binding cookie Secure (turn off only for plain-http "
        "development).",
    )

    @field_validator("clients")
    @classmethod
    def _names(cls, value: dict[str, ProviderSettings]) -> dict[str, ProviderSettings]:
        for name in value:
            if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 40:
                raise ValueError(f"provider name {name!r}: letters, digits, - and _ (≤ 40)")
        return value

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str) -> str:
        if origin_of(value) is None:
            raise ValueError(f"public_url {value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        origins = []
        for url in value:
            origin = origin_of(url)
            if origin is None:
                raise ValueError(f"allowed origin {url!r} is not an http(s) origin")
            origins.append(origin)
        return origins

    def origins(self) -> frozenset[str]:
        """Where ``next`` may point: the allowed origins and public_url's own."""
        own = origin_of(self.public_url)
        return frozenset({*self.allowed_origins, *([own] if own else [])})
