"""The jobs patterns: ``jobs-local`` (embedded default), ``jobs-redis`` and ``jobs-rabbitmq``.

All three provide the :data:`~rainmaker.capabilities.Jobs` capability and pass the same
contract suite (:mod:`rainmaker.testing.contracts.jobs`). Importing this package is light;
taskiq and the broker clients load only when a jobs module starts.
"""

from rainmaker.patterns.jobs.pattern import jobs_local, jobs_rabbitmq, jobs_redis

__all__ = ["jobs_local", "jobs_rabbitmq", "jobs_redis"]
