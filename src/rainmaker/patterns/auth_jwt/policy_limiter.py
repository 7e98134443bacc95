"""Brute-force limits counted by a composed ``RateLimits`` provider (the ``rate-limit``
pattern) instead of :class:`~rainmaker.patterns.auth_jwt.rate_limit.AttemptLimiter`.

Each limit of ``rate_limits`` becomes a policy named ``<instance>.<limit>`` (say
``auth.login_per_account``), declared with the limit's attempts and window as a fixed
window keyed by code; a policy of that name in the rate-limit instance's settings wins,
so an app tunes auth's limits where it tunes its own (a moving window, other numbers).
Counters then live wherever the provider keeps them — in Redis, shared by every process —
and a refusal carries the standard ``RateLimit-*`` headers. Several counters share one
limit (password-reset requests per account and verification resends per account, say):
each keeps its own counter under the policy, as with the built-in limiter. Subjects
(email addresses) are hashed in keys, so the store holds no addresses.
"""

from __future__ import annotations

import hashlib
import math

from rainmaker.capabilities.rate_limits import RateLimiter, RateLimitExceededError
from rainmaker.patterns.auth_jwt.settings import RateLimit, RateLimits

# Which limit of ``rate_limits`` each counter the service names is counted under.
COUNTER_LIMITS: dict[str, str] = {
    "login-addr": "login_per_address",
    "login-acct": "login_per_account",
    "password-acct": "password_change_per_account",
    "reset-addr": "reset_per_address",
    "reset-acct": "reset_per_account",
    "exists-acct": "reset_per_account",
    "resend-acct": "reset_per_account",
    "register-addr": "register_per_address",
    "resend-addr": "register_per_address",
    "verify-addr": "register_per_address",
    "2fa-acct": "two_factor_per_account",
}


def limit_string(limit: RateLimit) -> str:
    """``limit`` in the ``limits`` notation (whole seconds: ``limits`` counts no less)."""
    return f"{limit.attempts} per {max(1, math.ceil(limit.window))} seconds"


class PolicyLimiter:
    """The attempt limiter of ``auth-jwt`` on a ``RateLimits`` provider (same interface as
    :class:`~rainmaker.patterns.auth_jwt.rate_limit.AttemptLimiter`)."""

    def __init__(
        self, limiter: RateLimiter, limits: RateLimits, *, enabled: bool, pattern_id: str
    ) -> None:
        self.limiter = limiter
        self.enabled = enabled
        self.pattern_id = pattern_id
        self.policies: dict[str, str] = {}
        for field in sorted(set(COUNTER_LIMITS.values())):
            name = f"{pattern_id}.{field}"
            limiter.declare(name, limit_string(getattr(limits, field)))
            self.policies[field] = name

    @property
    def backend(self) -> str:
        """Where the counters live: the ``RateLimits`` provider."""
        return "rate-limit"

    async def hit(self, name: str, subject: str, limit: RateLimit, *, what: str) -> None:
        """Count one attempt of counter ``name`` by ``subject``; raise once past the policy.

        ``limit`` is the setting the built-in limiter would apply; here the policy named
        after it decides (its defaults came from the same setting).
        """
        if not self.enabled:
            return
        policy = self.policies[COUNTER_LIMITS[name]]
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        decision = await self.limiter.hit(policy, f"{name}:{digest}")
        if not decision.allowed:
            raise RateLimitExceededError(
                f"too many {what}; try again in {decision.retry_after} seconds",
                retry_after=decision.retry_after,
                pattern_id=self.pattern_id,
                headers=decision.headers(),
                policy=policy,
            )
