"""The embedded cache: a bounded, in-process LRU with per-key expiry.

:class:`MemoryStore` holds the entries of one ``cache-memory`` instance (every namespace
shares its ``max_entries`` bound); :class:`MemoryCache` is a namespaced view implementing
:class:`~rainmaker.capabilities.cache.CacheBackend`. Values are stored serialized, exactly as
a server would hold them, so callers get copies and switching to Redis changes nothing.

Nothing here awaits between reading and writing an entry, so each operation is atomic with
respect to other tasks on the event loop (``incr`` needs no lock).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rainmaker.patterns.cache.keyspace import ttl_ms
from rainmaker.patterns.cache.namespace_view import NamespaceView, tag_list
from rainmaker.patterns.cache.serializers import decode, encode_counter
from rainmaker.patterns.cache.stampede import SingleFlight

T = TypeVar("T")


@dataclass(slots=True)
class _Entry:
    data: bytes
    expires_at: float | None  # time.monotonic() deadline
    tags: frozenset[str] = field(default_factory=frozenset)


class MemoryStore:
    """Entries of one instance, least recently used first; evicts beyond ``max_entries``."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1 (got {max_entries})")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._tags: dict[str, set[str]] = {}  # tag key -> stored keys carrying it
        self.evictions = 0
        # Reads through get() and get_or_set(), for the hit ratio in health details.
        self.hits = 0
        self.misses = 0
        self.flights = SingleFlight()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: str) -> bytes | None:
        entry = self._live(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry.data

    def store(
        self, key: str, data: bytes, ttl: float | None, tags: frozenset[str] = frozenset()
    ) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._untag(key, old)
        deadline = None if ttl is None else time.monotonic() + ttl
        self._entries[key] = _Entry(data, deadline, tags)
        for tag in tags:
            self._tags.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries:
            evicted, entry = self._entries.popitem(last=False)
            self._untag(evicted, entry)
            self.evictions += 1

    def remove(self, key: str) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self._untag(key, entry)
        return entry.expires_at is None or entry.expires_at > time.monotonic()

    def add(self, key: str, amount: int, ttl: float | None) -> int:
        entry = self._live(key)
        if entry is None:
            value = amount
            self.store(key, encode_counter(value), ttl)
            return value
        try:
            value = int(entry.data) + amount
        except ValueError:
            raise TypeError(
                f"cannot incr {key!r}: it holds a value that is not a counter"
            ) from None
        entry.data = encode_counter(value)
        if entry.expires_at is None and ttl is not None:
            entry.expires_at = time.monotonic() + ttl
        self._entries.move_to_end(key)
        return value

    def touch(self, key: str, ttl: float) -> bool:
        entry = self._live(key)
        if entry is None:
            return False
        entry.expires_at = time.monotonic() + ttl
        return True

    def remove_prefix(self, prefix: str) -> int:
        doomed = [key for key in self._entries if key.startswith(prefix)]
        return sum(self.remove(key) for key in doomed)

    def remove_tagged(self, tag_keys: Iterable[str]) -> int:
        doomed: set[str] = set()
        for tag in tag_keys:
            doomed |= self._tags.pop(tag, set())
        return sum(self.remove(key) for key in doomed)

    def remove_tags_with_prefix(self, prefix: str) -> None:
        for tag in [t for t in self._tags if t.startswith(prefix)]:
            del self._tags[tag]

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= time.monotonic():
            del self._entries[key]
            self._untag(key, entry)
            return None
        return entry

    def _untag(self, key: str, entry: _Entry) -> None:
        for tag in entry.tags:
            keys = self._tags.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[tag]


class MemoryCache(NamespaceView[MemoryStore]):
    """One namespace of a :class:`MemoryStore`; the ``cache-memory`` service."""

    __slots__ = ()

    @property
    def store(self) -> MemoryStore:
        return self._shared

    async def get(self, key: str) -> Any | None:
        store = self._shared
        data = store.lookup(self._keys.key(key))
        if data is None:
            store.misses += 1
            return None
        store.hits += 1
        return decode(self._serializer, data)

    async def set(
        self, key: str, value: Any, *, ttl: float | None = None, tags: Iterable[str] = ()
    ) -> None:
        stored = self._keys.key(key)
        if value is None:
            self._shared.remove(stored)
            return
        tag_keys = frozenset(self._keys.tag(tag) for tag in tag_list(tags))
        self._shared.store(stored, self._serializer.dumps(value), self._ttl(ttl), tag_keys)

    async def delete(self, key: str) -> bool:
        return self._shared.remove(self._keys.key(key))

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        return self._shared.add(self._keys.key(key), amount, self._ttl(ttl))

    async def expire(self, key: str, ttl: float) -> bool:
        ttl_ms(ttl)
        return self._shared.touch(self._keys.key(key), ttl)

    async def get_or_set(
        self,
        key: str,
        loader: Callable[[], Awaitable[T]],
        *,
        ttl: float | None = None,
        tags: Iterable[str] = (),
    ) -> T:
        stored = self._keys.key(key)
        data = self._shared.lookup(stored)
        if data is not None:
            self._shared.hits += 1
            found: T = decode(self._serializer, data)
            return found
        self._shared.misses += 1
        tag_names = tag_list(tags)

        async def load() -> T:
            # Re-check: the previous flight may have finished between our miss and now.
            data = self._shared.lookup(stored)
            if data is not None:
                cached: T = decode(self._serializer, data)
                return cached
            value = await loader()
            if value is not None:
                await self.set(key, value, ttl=ttl, tags=tag_names)
            return value

        return await self._shared.flights.run(stored, load)

    async def delete_prefix(self, prefix: str) -> int:
        return self._shared.remove_prefix(self._keys.prefix + prefix)

    async def invalidate_tags(self, *tags: str) -> int:
        return self._shared.remove_tagged(self._keys.tag(tag) for tag in tags)

    async def clear(self) -> int:
        removed = self._shared.remove_prefix(self._keys.prefix)
        self._shared.remove_tags_with_prefix(self._keys.tag_prefix)
        return removed

    def __repr__(self) -> str:
        return f"MemoryCache(prefix={self.prefix!r})"
