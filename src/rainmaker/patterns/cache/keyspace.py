"""Where a cache view's keys live: ``<app>:<namespace>:<key>`` plus internal keys.

Namespaces and the app prefix cannot contain ``:``, so the segment between the first two
colons always names the namespace and two namespaces can never share a key. Internal keys
(tag sets, stampede locks) live beside the data under ``<app>#tag:`` and ``<app>#lock:``,
so ``delete_prefix`` on user keys never touches them and user keys need no reserved form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_name(kind: str, value: str) -> str:
    """``value`` when it is a valid prefix or namespace; ``ValueError`` explains otherwise."""
    if not isinstance(value, str) or not NAME.match(value):
        raise ValueError(
            f"cache {kind} {value!r} must be letters, digits, '_', '.' or '-' "
            "(no ':' so namespaces cannot overlap), e.g. 'billing'"
        )
    return value


@dataclass(frozen=True, slots=True)
class Keyspace:
    """The keys of one namespace under one app prefix."""

    app: str
    namespace: str
    #: Every data key of this namespace starts with this (computed once: it is on every call).
    prefix: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_name("key prefix", self.app)
        check_name("namespace", self.namespace)
        object.__setattr__(self, "prefix", f"{self.app}:{self.namespace}:")

    @property
    def tag_prefix(self) -> str:
        """Every tag-set key of this namespace starts with this."""
        return f"{self.app}#tag:{self.namespace}:"

    def key(self, key: str) -> str:
        """The stored form of a caller's key."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"cache keys are non-empty strings (got {key!r})")
        return self.prefix + key

    def tag(self, tag: str) -> str:
        """The key of the set that remembers which keys carry ``tag``."""
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"cache tags are non-empty strings (got {tag!r})")
        return self.tag_prefix + tag

    def lock(self, key: str) -> str:
        """The stampede-lock key for a caller's key."""
        return f"{self.app}#lock:{self.namespace}:{key}"

    def sibling(self, namespace: str) -> Keyspace:
        """The same app prefix with another namespace."""
        return Keyspace(self.app, namespace)


def ttl_ms(ttl: float | None) -> int | None:
    """Seconds as whole milliseconds (at least 1); ``None`` stays ``None``."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
        raise ValueError(f"ttl must be a positive number of seconds (got {ttl!r})")
    return max(1, round(ttl * 1000))
