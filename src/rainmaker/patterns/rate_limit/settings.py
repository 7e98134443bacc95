"""Settings of ``rate-limit``: named policies, path rules, the counter store, outage behaviour.

Policy strings are parsed here, by the ``limits`` library's own parser, so a string that
does not parse is a composition error (exit 2) naming the instance, the key
(``policies.<name>.limit``) and the accepted forms, before anything starts. ``limits`` is
imported inside the validator, so listing patterns does not load it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from rainmaker import Settings

ACCEPTED_FORMS = (
    "'<count>/<period>' or '<count> per <n> <period>s', period one of second, minute, "
    "hour, day, month, year (e.g. '100/minute', '5 per 10 seconds'); several joined by ';' "
    "(e.g. '10/second;1000/hour')"
)

KEY_FORMS = "'address', 'user', 'api-key', 'custom' or 'header:<Header-Name>'"
_HEADER_KEY = re.compile(r"^header:[A-Za-z0-9-]+$")


def parse_limit(value: str) -> None:
    """Raise ``ValueError`` naming the accepted forms unless ``limits`` parses ``value``."""
    from limits import parse_many

    try:
        items = parse_many(value)
    except ValueError:
        items = []
    if not items or any(item.amount <= 0 for item in items):
        raise ValueError(f"{value!r} is not a rate limit; accepted forms: {ACCEPTED_FORMS}")


class PolicySettings(Settings):
    """One named policy."""

    limit: str = Field(
        description="How many hits per period, in the `limits` notation: '100/minute', "
        "'5 per 10 seconds', or several joined by ';' ('10/second;1000/hour'), each of "
        "which must allow a hit.",
    )
    strategy: Literal["moving-window", "fixed-window"] = Field(
        "moving-window",
        description="'moving-window' counts the last period exactly; 'fixed-window' counts "
        "per aligned period (one counter, cheaper; up to twice the rate across an edge).",
    )
    key: str = Field(
        "address",
        description="What the policy counts per: 'address' (the client's canonical address: "
        "one IPv4 address, or its IPv6 network of `ipv6_prefix` bits), 'user' (the "
        "authenticated user, else the address), 'api-key' (the API key, once the "
        "Credentials provider verified it, else the address: made-up keys share their "
        "address's counter), 'header:<Header-Name>' (that header's value, else the "
        "address; only for a header a trusted proxy sets, as a client may send any value) "
        "or 'custom' (the key code passes, e.g. rate_limit('p', key=...)).",
    )

    @field_validator("limit")
    @classmethod
    def _limit_parses(cls, value: str) -> str:
        parse_limit(value)
        return value

    @field_validator("key")
    @classmethod
    def _key_is_known(cls, value: str) -> str:
        if value in {"address", "user", "api-key", "custom"} or _HEADER_KEY.match(value):
            return value
        raise ValueError(f"{value!r} is not a policy key; accepted forms: {KEY_FORMS}")


class PathRule(Settings):
    """A policy applied by path, to routes that do not declare it themselves."""

    path: str = Field(
        description="A path pattern: an exact path ('/auth/login') or a prefix ending in "
        "'*' ('/api/*'), matched against the request path.",
        pattern=r"^/",
    )
    policy: str = Field(description="The name of a policy declared under `policies`.")
    methods: list[str] = Field(
        default_factory=list,
        description="HTTP methods the rule applies to (upper case); empty: every method.",
    )

    @field_validator("methods")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [method.upper() for method in value]


class RateLimitSettings(Settings):
    """Unknown keys are errors; every field is documented for `rainmaker docs build`."""

    policies: dict[str, PolicySettings] = Field(
        default_factory=dict,
        description="Named policies: [patterns.<instance>.policies.<name>] with `limit`, "
        "`strategy` and `key`. Routes use them by name (rate_limit('<name>')).",
    )
    paths: list[PathRule] = Field(
        default_factory=list,
        description="Policies applied by path pattern, by a middleware, without touching "
        "the routes; a request is counted under every rule that matches it.",
    )
    storage_url: SecretStr | None = Field(
        None,
        description="Where counters live: unset keeps them in this process (memory); "
        "'redis://host:6379/0' (or rediss://) shares them between processes. Redacted "
        "wherever settings are shown.",
    )
    ipv6_prefix: int = Field(
        64,
        ge=1,
        le=128,
        description="Prefix length of the IPv6 network counted as one client address: 64 "
        "(the smallest network a site is given, whose addresses a client picks freely), "
        "48 or 56 to count a whole site, 128 for single addresses. IPv4 addresses count "
        "one each; IPv4-mapped IPv6 addresses count as their IPv4 address.",
    )
    key_prefix: str = Field(
        "rl", min_length=1, description="Prefix of every counter key in the store."
    )
    fail_open: bool = Field(
        True,
        description="When the store cannot be reached: true lets requests through (and "
        "logs a warning), false refuses them with 503 rate_limit_unavailable.",
    )
    timeout: float = Field(
        0.5,
        gt=0,
        le=10,
        description="Seconds a request waits for the store before the outage rule applies.",
    )
    retry_interval: float = Field(
        2.0,
        ge=0,
        le=60,
        description="After a store failure, seconds during which the store is not tried "
        "again (each request gets the outage rule at once instead of waiting).",
    )
    problem_type_base: str = Field(
        "urn:rainmaker:problem:",
        description="Prefix of the 'type' of the 429 problem+json the path middleware "
        "answers (set it like framework-fastapi's).",
    )

    @field_validator("storage_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("storage_url must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("policies")
    @classmethod
    def _policy_names(cls, value: dict[str, PolicySettings]) -> dict[str, PolicySettings]:
        for name in value:
            if not re.match(r"^[A-Za-z0-9_.:-]+$", name):
                raise ValueError(f"policy name {name!r}: use letters, digits and . _ : - only")
        return value

    @model_validator(mode="after")
    def _rules_name_policies(self) -> RateLimitSettings:
        for index, rule in enumerate(self.paths):
            if rule.policy not in self.policies:
                declared = ", ".join(sorted(self.policies)) or "none"
                raise ValueError(
                    f"paths[{index}] names policy {rule.policy!r}, which is not declared "
                    f"under policies (declared: {declared})"
                )
            if self.policies[rule.policy].key == "custom":
                raise ValueError(
                    f"paths[{index}]: policy {rule.policy!r} is keyed 'custom', which only "
                    "code can key; use an 'address', 'user', 'api-key' or 'header:' policy"
                )
        return self
