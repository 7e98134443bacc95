"""Alembic revisions of ``jobs-redis`` (one branch, tables prefixed ``jobs_redis_``).

``jobs-redis`` keeps its queue in Redis; the only table it owns holds the jobs that were
enqueued inside a database transaction until a worker reports them done or dead, so a
Redis that lost them can be refilled (:mod:`rainmaker.patterns.jobs.tracked`).
"""
