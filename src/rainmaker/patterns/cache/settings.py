"""Settings of the cache patterns (light to import: no redis-py here)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from rainmaker import Seconds, Settings
from rainmaker.patterns.cache.keyspace import check_name
from rainmaker.patterns.cache.serializers import resolve_serializer

REDIS_SCHEMES = ("redis", "rediss")
REDIS_URL_EXAMPLE = "redis://:password@127.0.0.1:6379/0"


class CacheSettings(Settings):
    """What every cache pattern shares: key layout, expiry default and serialization."""

    key_prefix: str | None = Field(
        None,
        description="First segment of every key ('<prefix>:<namespace>:<key>'); defaults to "
        "the app's name. Give two apps sharing one server different prefixes.",
        examples=["acme"],
    )
    namespace: str = Field(
        "shared",
        description="Namespace of the Cache service as registered; patterns reach it "
        "through ctx.cache, which is already namespaced by their instance name.",
    )
    default_ttl: Seconds | None = Field(
        None,
        description="Seconds a value lives when set() gives no ttl (unset: until evicted or "
        "deleted).",
    )
    serializer: str = Field(
        "json",
        description="How values become bytes: 'json' (default, safe), 'pickle' (any Python "
        "object; only when every writer is trusted) or 'package.module:attribute' naming an "
        "object (or class) with dumps(value) -> bytes and loads(bytes).",
    )

    @field_validator("key_prefix")
    @classmethod
    def _valid_prefix(cls, value: str | None) -> str | None:
        return None if value is None else check_name("key prefix", value)

    @field_validator("namespace")
    @classmethod
    def _valid_namespace(cls, value: str) -> str:
        return check_name("namespace", value)

    @field_validator("serializer")
    @classmethod
    def _valid_serializer(cls, value: str) -> str:
        resolve_serializer(value)  # fail at validation, not at the first set()
        return value


class MemoryCacheSettings(CacheSettings):
    """``cache-memory``: an in-process LRU cache; no server, not shared between processes."""

    max_entries: int = Field(
        10_000,
        ge=1,
        description="Entries kept before the least recently used is evicted (all namespaces "
        "together).",
    )


class RedisCacheSettings(CacheSettings):
    """``cache-redis``: a Redis server through a redis-py asyncio connection pool."""

    url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="redis://[user:password@]host:port/db, or rediss:// for TLS. A password "
        "here is redacted wherever settings are shown; prefer the password setting.",
        examples=[REDIS_URL_EXAMPLE],
    )
    password: SecretStr | None = Field(
        None,
        description="Redis password (overrides one in the url); usually '${REDIS_PASSWORD}'.",
    )
    max_connections: int = Field(
        50, ge=1, le=10_000, description="Connections the pool may open to Redis."
    )
    connect_timeout: Seconds = Field(
        2.0,
        description="Seconds to open a connection; start fails (or starts degraded with "
        "fail_open) when Redis does not answer within it.",
    )
    socket_timeout: Seconds = Field(
        1.0, description="Seconds one command may take before it counts as a failure."
    )
    fail_open: bool = Field(
        True,
        description="During a Redis outage, reads miss, writes and invalidations do nothing "
        "and counters count from zero (logged, health degraded) instead of raising "
        "UnavailableError; the app keeps serving. Use TTLs so values an outage kept from "
        "being invalidated expire.",
    )
    retry_interval: Seconds = Field(
        1.0,
        description="Seconds after a failure during which operations skip Redis instead of "
        "waiting on it again (health checks always probe).",
    )
    log_interval: Seconds = Field(
        30.0, description="Seconds between repeated warnings while Redis stays unreachable."
    )
    lock_ttl: Seconds = Field(
        10.0,
        description="Seconds a get_or_set loader may hold its key's stampede lock; waiters in "
        "other processes load themselves after this long. Keep it above your slowest loader.",
    )
    lock_poll_interval: Seconds = Field(
        0.02,
        le=5,
        description="Seconds between a waiting get_or_set's checks for the value another "
        "process is loading.",
    )

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        redis_endpoint(value)
        return value


def redis_endpoint(url: str) -> tuple[str, int, int]:
    """``(host, port, db)`` of a Redis URL; ``ValueError`` says what is wrong (no password)."""
    try:
        parts = urlsplit(url)
        port = parts.port or 6379
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc}); expected {REDIS_URL_EXAMPLE}") from None
    if parts.scheme not in REDIS_SCHEMES:
        shown = f"{parts.scheme}://" if parts.scheme else "(none)"
        raise ValueError(
            f"scheme {shown} is not redis:// or rediss://; expected {REDIS_URL_EXAMPLE}"
        )
    if not parts.hostname:
        raise ValueError(f"the URL names no host; expected {REDIS_URL_EXAMPLE}")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"the database after the host must be a number, e.g. /0 (got /{path})")
    if parts.query or parts.fragment:
        raise ValueError(
            "query parameters are not supported in the URL; use this pattern's settings "
            "(connect_timeout, socket_timeout, max_connections, password) instead"
        )
    return parts.hostname, port, int(path or 0)
