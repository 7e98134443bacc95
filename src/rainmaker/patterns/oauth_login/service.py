"""The sign-in flows of ``oauth-login``: start, finish, hand over, link and unlink.

Linking rules: a provider account already linked signs in as its user. Otherwise a
logged-in user's link flow links it to that user. Otherwise, if an account already has the
provider's email address — verified by the provider or not — nothing is linked: the user
must sign in to that account and link from there (a provider's word alone never hands
over an existing account). Only an unknown address makes a new account, through ``Auth``,
so the signup hooks (payments customer, welcome job) run as for a password signup.

The provider is the first factor, never the whole sign-in: a finished flow (the callback,
or the one-time code exchange) answers ``Auth.sign_in(user, method=...)``, so a second
factor the account enrolled, or one its roles require, is asked for exactly as after a
password login, and the tokens' ``amr`` starts with ``oidc`` (``oauth`` for GitHub).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from rainmaker import UnauthorizedError
from rainmaker.capabilities.auth import Authenticator, SignInAnswer, User
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.patterns.oauth_login.errors import (
    AccountExistsError,
    CodeInvalidError,
    EmailMissingError,
    EmailUnverifiedError,
    ExchangeCodeInvalidError,
    IdentityTakenError,
    NextForbiddenError,
    ProviderDeniedError,
    ProviderUnknownError,
    StateInvalidError,
)
from rainmaker.patterns.oauth_login.grants import GrantStore, digest
from rainmaker.patterns.oauth_login.identities import IdentityStore, LinkedIdentity
from rainmaker.patterns.oauth_login.provider import Profile, ProviderClient, new_verifier
from rainmaker.patterns.oauth_login.settings import OAuthLoginSettings, origin_of

PATTERN_ID = "oauth-login"
EXCHANGE_PARAMETER = "oauth_code"  # the query parameter the front end reads on `next`


@dataclass(frozen=True)
class Started:
    """A started sign-in: where to send the browser, and the cookie that binds it."""

    url: str
    cookie_name: str
    cookie_value: str


OIDC_AMR = "oidc"  # the first factor's amr value: an ID token from an OpenID provider
OAUTH_AMR = "oauth"  # a plain OAuth 2 provider (GitHub): its user API vouched instead


@dataclass(frozen=True)
class Finished:
    """A finished sign-in: a redirect to ``next`` with a one-time code, or the sign-in's
    answer itself (the token pair, or the second-factor challenge the account needs)."""

    redirect: str | None
    answer: SignInAnswer | None


def cookie_name(state: str) -> str:
    """One cookie per started flow, so two tabs signing in at once do not collide."""
    return "rk_oauth_" + hashlib.sha256(state.encode()).hexdigest()[:16]


class OAuthLogin:
    """The running service behind the routes."""

    def __init__(
        self,
        settings: OAuthLoginSettings,
        db: SqlDatabase,
        auth: Authenticator,
        clients: dict[str, ProviderClient],
        *,
        mount: str,
    ) -> None:
        self.settings = settings
        self.mount = mount
        self.db = db
        self.auth = auth
        self.clients = clients
        self.grants = GrantStore(db)
        self.identities = IdentityStore(db)

    def client(self, provider: str) -> ProviderClient:
        """The configured provider of this name, or 404 ``oauth_provider_unknown``."""
        found = self.clients.get(provider)
        if found is None:
            known = ", ".join(sorted(self.clients)) or "none"
            raise ProviderUnknownError(
                f"no sign-in provider {provider!r} is configured (configured: {known})",
                pattern_id=PATTERN_ID,
            )
        return found

    def checked_next(self, next_url: str | None) -> str | None:
        """``next`` if it stays on an allowed origin (an absolute URL or a local path)."""
        if next_url is None or next_url == "":
            return None
        if "\\" in next_url or any(ord(c) < 32 for c in next_url) or len(next_url) > 2000:
            raise NextForbiddenError("next is not a usable URL", pattern_id=PATTERN_ID)
        if next_url.startswith("/") and not next_url.startswith("//"):
            return self.settings.public_url + next_url
        origin = origin_of(next_url)
        if origin is None or origin not in self.settings.origins():
            allowed = ", ".join(sorted(self.settings.origins()))
            raise NextForbiddenError(
                f"next must point to an allowed origin ({allowed})",
                pattern_id=PATTERN_ID,
                hint="add the front end's origin to allowed_origins",
            )
        return next_url

    # -- starting -----------------------------------------------------------------------------

    async def start(
        self, provider: str, *, next_url: str | None, link_ticket: str | None
    ) -> Started:
        """A new flow: state, nonce and PKCE verifier kept server-side until the callback."""
        client = self.client(provider)
        target = self.checked_next(next_url)
        link_user: str | None = None
        if link_ticket is not None:
            ticket = await self.grants.spend("link", link_ticket)
            if ticket is None or ticket.get("provider") != provider:
                raise StateInvalidError(
                    "the link ticket is unknown, used or expired: ask for a new one",
                    pattern_id=PATTERN_ID,
                )
            link_user = str(ticket["user_id"])
        nonce = secrets.token_urlsafe(24)
        verifier = new_verifier()
        binding = secrets.token_urlsafe(24)
        await client.metadata()  # unreachable: 503 before anything is stored
        state = await self.grants.issue(
            "flow",
            {
                "provider": provider,
                "nonce": nonce,
                "verifier": verifier,
                "next": target,
                "link_user": link_user,
                "binding": digest(binding),
            },
            ttl=self.settings.flow_ttl,
        )
        url = await client.authorize_url(state=state, nonce=nonce, verifier=verifier)
        return Started(url, cookie_name(state), binding)

    async def link_ticket(self, user: User, provider: str, next_url: str | None) -> str:
        """The authorize URL a signed-in user's browser opens to link ``provider``."""
        self.client(provider)
        self.checked_next(next_url)
        ticket = await self.grants.issue(
            "link", {"user_id": user.id, "provider": provider}, ttl=self.settings.flow_ttl
        )
        query = {"link": ticket, **({"next": next_url} if next_url else {})}
        base = f"{self.settings.public_url}{self.mount}/oauth/{provider}/authorize"
        return f"{base}?{urlencode(query)}"

    # -- finishing ----------------------------------------------------------------------------

    async def finish(
        self,
        provider: str,
        *,
        state: str | None,
        code: str | None,
        error: str | None,
        cookies: dict[str, str],
    ) -> Finished:
        """Check the state and its browser, exchange the code, find or make the user."""
        client = self.client(provider)
        flow = await self.grants.spend("flow", state)
        binding = cookies.get(cookie_name(state)) if state else None
        if (
            flow is None
            or flow.get("provider") != provider
            or binding is None
            or not hmac.compare_digest(digest(binding), str(flow.get("binding")))
        ):
            raise StateInvalidError(
                "this sign-in's state is missing, unknown, used, expired or was started in "
                "another browser: start the sign-in again",
                pattern_id=PATTERN_ID,
            )
        if error is not None:
            raise ProviderDeniedError(
                f"{provider} did not sign you in ({error[:100]})", pattern_id=PATTERN_ID
            )
        if not code:
            raise CodeInvalidError("the callback has no code", pattern_id=PATTERN_ID)
        tokens = await client.exchange(code, str(flow["verifier"]))
        profile = await client.profile(tokens, nonce=str(flow["nonce"]))
        user = await self._user_for(provider, profile, flow.get("link_user"))
        method = OIDC_AMR if client.preset.oidc else OAUTH_AMR
        target = flow.get("next")
        if target:
            # The policy applies at the exchange, so the challenge (like tokens) never
            # travels in a URL.
            one_time = await self.grants.issue(
                "exchange",
                {"user_id": user.id, "method": method},
                ttl=self.settings.exchange_code_ttl,
            )
            return Finished(_with_query(str(target), EXCHANGE_PARAMETER, one_time), None)
        return Finished(None, await self.auth.sign_in(user, method=method))

    async def _user_for(self, provider: str, profile: Profile, link_user: object) -> User:
        linked = await self.identities.find(provider, profile.subject)
        if linked is not None:
            if link_user is not None and linked.user_id != link_user:
                raise IdentityTakenError(
                    f"this {provider} account is linked to another account",
                    pattern_id=PATTERN_ID,
                )
            return await self._existing(linked.user_id)
        if link_user is not None:
            user = await self._existing(str(link_user))
            await self.identities.link(
                user.id, provider, profile.subject, profile.email, profile.email_verified
            )
            return user
        if profile.email is None:
            raise EmailMissingError(
                f"{provider} gave no email address: allow access to it, or sign in another way",
                pattern_id=PATTERN_ID,
            )
        if await self.auth.get_user_by_email(profile.email) is not None:
            vouched = "" if profile.email_verified else " (the provider does not vouch for it)"
            raise AccountExistsError(
                f"an account already uses this email address{vouched}: sign in to it, then "
                f"link {provider} from the account",
                pattern_id=PATTERN_ID,
            )
        if not profile.email_verified and not self.settings.allow_unverified_email:
            raise EmailUnverifiedError(
                f"{provider} does not vouch for {profile.email}: verify it there, or sign up "
                "another way",
                pattern_id=PATTERN_ID,
            )
        # One transaction: the account, its signup hooks and the identity, or none of them.
        async with self.db.transaction():
            user = await self.auth.create_user(profile.email, None, verified=profile.email_verified)
            await self.identities.link(
                user.id, provider, profile.subject, profile.email, profile.email_verified
            )
        return user

    async def _existing(self, user_id: str) -> User:
        user = await self.auth.get_user(user_id)
        if user is None:
            raise UnauthorizedError("the linked account no longer exists", pattern_id=PATTERN_ID)
        return user

    async def exchange(self, code: str) -> SignInAnswer:
        """The sign-in's answer for a one-time code from a finished flow (spent now): the
        token pair, or the second-factor challenge the account needs first."""
        grant = await self.grants.spend("exchange", code)
        if grant is None:
            raise ExchangeCodeInvalidError(
                "the sign-in code is unknown, used or expired: sign in again",
                pattern_id=PATTERN_ID,
            )
        user = await self._existing(str(grant["user_id"]))
        # A code issued before grants named their method came from an OpenID provider or
        # GitHub alike; "oauth" claims no more than that.
        return await self.auth.sign_in(user, method=str(grant.get("method", OAUTH_AMR)))

    # -- identities ---------------------------------------------------------------------------

    async def list_identities(self, user: User) -> list[LinkedIdentity]:
        """The user's linked provider accounts."""
        return await self.identities.list_for(user.id)

    async def unlink(self, user: User, identity_id: str) -> None:
        """Unlink one, unless it is the account's only way in (no password, no other)."""
        keep_one = not await self.auth.has_password(user.id)
        await self.identities.unlink(user.id, identity_id, keep_one=keep_one)


def _with_query(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({name: value})))
