"""Errors of ``rate-limit``, each with a stable code and its HTTP status.

They belong to the ``RateLimits`` capability (callers of any provider catch them), so
they are defined in :mod:`rainmaker.capabilities.rate_limits` and named here for readers
of this pattern:

- :class:`RateLimitExceededError` — 429 ``rate_limited``, with ``Retry-After`` and the
  ``RateLimit-*`` headers;
- :class:`RateLimitUnavailableError` — 503 ``rate_limit_unavailable``: the store is down
  and ``fail_open = false``;
- :class:`UnknownPolicyError` — 500 ``rate_limit_policy_unknown``: code named a policy the
  settings do not declare.

A policy string that does not parse is not an error raised here: settings validation
refuses it before start (composition error, exit 2).
"""

from rainmaker.capabilities.rate_limits import (
    RateLimitExceededError,
    RateLimitUnavailableError,
    UnknownPolicyError,
)

__all__ = ["RateLimitExceededError", "RateLimitUnavailableError", "UnknownPolicyError"]
