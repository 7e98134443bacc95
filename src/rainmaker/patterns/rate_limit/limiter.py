"""``LimitsRateLimiter``: the ``RateLimits`` provider, on the ``limits`` library.

Each policy compiles once into its ``limits`` items (``parse_many``) and strategy
(moving or fixed window) over one shared storage: ``limits``' in-process
``MemoryStorage``, or its ``RedisStorage`` (redis-py) when ``storage_url`` is set, so every
process of the app shares the counters. Counters are identified by ``(policy, key)``, so
two policies never share a counter even when their limits are equal.

Outages: a storage error opens a circuit for ``retry_interval`` seconds, during which
calls do not touch the store at all; every call then follows ``fail_open`` (a
``degraded`` allowed decision, or :class:`RateLimitUnavailableError`). One warning marks
the start of an outage and one line its end, so an outage does not flood the log.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from rainmaker import RateLimitedError
from rainmaker.capabilities.credentials import API_KEY_HEADER, CredentialVerifier
from rainmaker.capabilities.rate_limits import (
    KeyKind,
    RateLimitDecision,
    RateLimitPolicy,
    RateLimitUnavailableError,
    Strategy,
    UnknownPolicyError,
)
from rainmaker.patterns.rate_limit.settings import RateLimitSettings

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.aio.storage import Storage
    from limits.aio.strategies import RateLimiter as LimitsStrategy
    from structlog.typing import FilteringBoundLogger

    from rainmaker.capabilities.auth import Identity as TokenIdentity


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy with its ``limits`` items and strategy."""

    policy: RateLimitPolicy
    items: Sequence[RateLimitItem]
    strategy: LimitsStrategy


def compile_policies(settings: RateLimitSettings, storage: Storage) -> dict[str, CompiledPolicy]:
    """Every declared policy, parsed (settings validation already proved they parse)."""
    from limits import parse_many
    from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

    moving = MovingWindowRateLimiter(storage)
    fixed = FixedWindowRateLimiter(storage)
    compiled: dict[str, CompiledPolicy] = {}
    for name, declared in settings.policies.items():
        items = parse_many(declared.limit)
        first = items[0]
        policy = RateLimitPolicy(
            name=name,
            limit=declared.limit,
            strategy=declared.strategy,
            key=declared.key,
            amount=first.amount,
            period=first.get_expiry(),
        )
        strategy = moving if declared.strategy == "moving-window" else fixed
        compiled[name] = CompiledPolicy(policy, items, strategy)
    return compiled


def _digest(value: str) -> str:
    # Keys name no address, token or header value in the store: a short, stable hash.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def header_value(scope: Mapping[str, Any], name: bytes) -> str | None:
    """A request header's value (``name`` in lower case), or ``None``."""
    for key, value in scope.get("headers") or ():
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


class LimitsRateLimiter:
    """The :class:`~rainmaker.capabilities.rate_limits.RateLimiter` of ``rate-limit``."""

    def __init__(
        self,
        settings: RateLimitSettings,
        storage: Storage,
        *,
        backend: str,
        instance: str,
        log: FilteringBoundLogger,
        credentials: Callable[[], CredentialVerifier | None] = lambda: None,
    ) -> None:
        self.storage = storage
        self.backend = backend
        self.fail_open = settings.fail_open
        self.retry_interval = settings.retry_interval
        self.instance = instance
        # rainmaker.http loads FastAPI: imported when an app builds a limiter, not when
        # the pattern is listed.
        from rainmaker.http import connection_client_key

        self._client_key = functools.partial(
            connection_client_key, ipv6_prefix=settings.ipv6_prefix
        )
        self.log = log
        self._credentials = credentials
        self._compiled = compile_policies(settings, storage)
        self._policies = {name: c.policy for name, c in self._compiled.items()}
        self._errors: tuple[type[BaseException], ...] = _storage_errors()
        self._retry_at = 0.0
        self.down_since: float | None = None
        self.failures = 0
        self.last_error = ""

    @property
    def policies(self) -> Mapping[str, RateLimitPolicy]:
        return self._policies

    def declare(
        self,
        name: str,
        limit: str,
        *,
        strategy: Strategy = "fixed-window",
        key: KeyKind = "custom",
    ) -> RateLimitPolicy:
        existing = self._compiled.get(name)
        if existing is not None:  # the settings' (or an earlier) declaration wins
            return existing.policy
        from limits import parse_many

        items = parse_many(limit)
        if not items:
            raise ValueError(f"{limit!r} is not a rate limit")
        first = items[0]
        policy = RateLimitPolicy(
            name=name,
            limit=limit,
            strategy=strategy,
            key=key,
            amount=first.amount,
            period=first.get_expiry(),
        )
        from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

        counter = (
            MovingWindowRateLimiter(self.storage)
            if strategy == "moving-window"
            else FixedWindowRateLimiter(self.storage)
        )
        self._compiled[name] = CompiledPolicy(policy, items, counter)
        self._policies[name] = policy
        return policy

    def _get(self, name: str) -> CompiledPolicy:
        compiled = self._compiled.get(name)
        if compiled is None:
            declared = ", ".join(sorted(self._compiled)) or "none"
            raise UnknownPolicyError(
                f"no rate limit policy {name!r} is declared (declared: {declared})",
                pattern_id=self.instance,
                hint=f"declare it under [patterns.{self.instance}.policies.{name}]",
            )
        return compiled

    async def hit(self, policy: str, key: str, *, cost: int = 1) -> RateLimitDecision:
        compiled = self._get(policy)
        if self._retry_at and time.monotonic() < self._retry_at:
            return self._outage(compiled, None)
        try:
            decision = await self._hit(compiled, key, cost)
        except self._errors as exc:
            return self._outage(compiled, exc)
        if self.down_since is not None:
            self._recovered()
        return decision

    async def _hit(self, compiled: CompiledPolicy, key: str, cost: int) -> RateLimitDecision:
        name = compiled.policy.name
        strategy = compiled.strategy
        items = compiled.items
        if len(items) == 1:  # the common case, without the loop's bookkeeping
            item = items[0]
            allowed = await strategy.hit(item, name, key, cost=cost)
            reset, remaining = await strategy.get_window_stats(item, name, key)
            return RateLimitDecision(
                name, allowed, item.amount, remaining, reset - time.time(), item.get_expiry()
            )
        best: RateLimitDecision | None = None
        for item in items:
            allowed = await strategy.hit(item, name, key, cost=cost)
            reset, remaining = await strategy.get_window_stats(item, name, key)
            decision = RateLimitDecision(
                name, allowed, item.amount, remaining, reset - time.time(), item.get_expiry()
            )
            if not allowed:
                return decision
            if best is None or decision.remaining < best.remaining:
                best = decision
        assert best is not None
        return best

    async def peek(self, policy: str, key: str) -> RateLimitDecision:
        compiled = self._get(policy)
        if self._retry_at and time.monotonic() < self._retry_at:
            return self._outage(compiled, None)
        name = compiled.policy.name
        try:
            worst: RateLimitDecision | None = None
            for item in compiled.items:
                reset, remaining = await compiled.strategy.get_window_stats(item, name, key)
                decision = RateLimitDecision(
                    name,
                    remaining >= 1,
                    item.amount,
                    remaining,
                    max(0.0, reset - time.time()),
                    item.get_expiry(),
                )
                if worst is None or decision.remaining < worst.remaining:
                    worst = decision
        except self._errors as exc:
            return self._outage(compiled, exc)
        assert worst is not None
        return worst

    async def reset(self, policy: str, key: str) -> None:
        compiled = self._get(policy)
        try:
            for item in compiled.items:
                await compiled.strategy.clear(item, compiled.policy.name, key)
        except self._errors as exc:
            self._outage(compiled, exc)

    async def key_for(self, policy: str, scope: Mapping[str, Any]) -> str:
        kind = self._get(policy).policy.key
        # Every fallback is the canonical client address: one IPv4 address, or the IPv6
        # /ipv6_prefix network, however the server or a forwarded header spelled it.
        address = f"addr:{self._client_key(scope)}"
        if kind == "address" or kind == "custom":
            return address
        if kind.startswith("header:"):
            value = header_value(scope, kind[len("header:") :].lower().encode("latin-1"))
            return f"hdr:{_digest(value)}" if value else address
        if kind == "api-key":
            # Only a key the Credentials provider verifies has a counter of its own, keyed
            # by its id: a made-up key is counted with everything else from its address,
            # so inventing keys buys no fresh counters.
            if self._api_key(scope) is None:
                return address
            identity = await self._identity(scope)
            return f"key:{_digest(identity.token_id)}" if identity is not None else address
        # "user": the identity the request's credential acts as (API keys included).
        identity = await self._identity(scope)
        if identity is None:
            return address
        return f"user:{identity.user_id}"

    async def _identity(self, scope: Mapping[str, Any]) -> TokenIdentity | None:
        """The verified identity of the request's credential (verified once per request:
        ``rainmaker.http`` keeps a Credentials grant in the request's state)."""
        from starlette.requests import HTTPConnection

        from rainmaker.http import request_identity

        try:
            return await request_identity(HTTPConnection(cast("MutableMapping[str, Any]", scope)))
        except RateLimitedError:
            # The credential's own limit (api-keys' per-key policy) is past: the route's
            # guard refuses it; for keying it is no verified identity.
            return None

    def _api_key(self, scope: Mapping[str, Any]) -> str | None:
        value = header_value(scope, API_KEY_HEADER.encode())
        if value:
            return value.strip()
        header = header_value(scope, b"authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        verifier = self._credentials()
        if (
            scheme.lower() == "bearer"
            and verifier is not None
            and token.startswith(verifier.prefixes)
        ):
            return token
        return None

    # -- outages -----------------------------------------------------------------------------

    def _outage(self, compiled: CompiledPolicy, exc: BaseException | None) -> RateLimitDecision:
        if exc is not None:
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._retry_at = time.monotonic() + self.retry_interval
            if self.down_since is None:
                self.down_since = time.time()
                self.log.warning(
                    "rate_limit.store_down",
                    backend=self.backend,
                    error=self.last_error,
                    fail_open=self.fail_open,
                )
        if not self.fail_open:
            raise RateLimitUnavailableError(
                "rate limiting is unavailable (its store cannot be reached)",
                pattern_id=self.instance,
                headers={"Retry-After": str(max(1, round(self.retry_interval)))},
            )
        policy = compiled.policy
        return RateLimitDecision(
            policy.name,
            True,
            policy.amount,
            policy.amount,
            policy.period,
            policy.period,
            degraded=True,
        )

    def _recovered(self) -> None:
        assert self.down_since is not None
        self.log.info(
            "rate_limit.store_recovered",
            backend=self.backend,
            down_for=round(time.time() - self.down_since, 3),
            failures=self.failures,
        )
        self.down_since = None
        self._retry_at = 0.0

    async def check(self) -> bool:
        """Whether the store answers now (health probes; closes the circuit when it does)."""
        try:
            healthy = bool(await self.storage.check())
        except self._errors:
            healthy = False
        if healthy and self.down_since is not None:
            self._recovered()
        return healthy


def _storage_errors() -> tuple[type[BaseException], ...]:
    """What a storage call raises when the store is unreachable (``limits`` wraps the
    client's errors in ``StorageError``; timeouts and socket errors are added for
    safety)."""
    from limits.errors import StorageError

    errors: list[type[BaseException]] = [StorageError, OSError, TimeoutError]
    try:
        from redis.exceptions import RedisError
    except ImportError:  # memory only: redis-py need not be installed
        pass
    else:
        errors.append(RedisError)
    return tuple(errors)
