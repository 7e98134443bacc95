"""What every cache backend's namespace view shares: the keyspace, serializer and default ttl.

:class:`NamespaceView` holds one namespace's :class:`~rainmaker.patterns.cache.keyspace.Keyspace`,
its serializer and default ttl, beside the per-instance state every view of that instance
shares (the in-process store of ``cache-memory``, the connection link of ``cache-redis``).
Backends subclass it and implement the cache operations.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, Self, TypeVar

from rainmaker.capabilities.cache import Serializer
from rainmaker.patterns.cache.keyspace import Keyspace, ttl_ms

S = TypeVar("S")


class NamespaceView(Generic[S]):
    """One namespace over ``shared``, the state every view of one instance shares."""

    __slots__ = ("_default_ttl", "_keys", "_serializer", "_shared")

    def __init__(
        self,
        shared: S,
        keys: Keyspace,
        serializer: Serializer,
        *,
        default_ttl: float | None = None,
    ) -> None:
        ttl_ms(default_ttl)  # validates
        self._shared = shared
        self._keys = keys
        self._serializer = serializer
        self._default_ttl = default_ttl

    @property
    def namespace(self) -> str:
        return self._keys.namespace

    @property
    def prefix(self) -> str:
        return self._keys.prefix

    @property
    def serializer(self) -> Serializer:
        return self._serializer

    def namespaced(self, name: str) -> Self:
        return type(self)(
            self._shared, self._keys.sibling(name), self._serializer, default_ttl=self._default_ttl
        )

    def _ttl(self, ttl: float | None) -> float | None:
        """``ttl``, else the default ttl, validated (seconds)."""
        ttl = self._default_ttl if ttl is None else ttl
        ttl_ms(ttl)
        return ttl


def tag_list(tags: Iterable[str]) -> tuple[str, ...]:
    """``tags`` as a tuple; a lone string is refused rather than split into letters."""
    if isinstance(tags, str):  # a lone string would otherwise become one tag per letter
        raise TypeError(f"tags must be a list of strings, not the string {tags!r}")
    return tuple(tags)
