"""The cache patterns: ``cache-memory`` (embedded default) and ``cache-redis``.

Both provide the :data:`~rainmaker.capabilities.Cache` capability and pass the same contract
suite (:mod:`rainmaker.testing.contracts.cache`). Importing this package is light; redis-py
loads only when a ``cache-redis`` module starts.
"""

from rainmaker.patterns.cache.pattern import cache_memory, cache_redis

__all__ = ["cache_memory", "cache_redis"]
