"""What a Redis server keeps: can it lose queued jobs without anyone noticing?

A job queue on Redis is only as durable as the server's configuration. Two settings
decide it (Sidekiq checks the second one at start for the same reason):

- persistence: with neither the append-only file (``appendonly yes``) nor RDB snapshots
  (``save …``), a restart empties every stream; with snapshots only, a crash loses what was
  queued since the last one.
- ``maxmemory-policy``: anything other than ``noeviction`` lets Redis delete keys under
  memory pressure, streams of queued jobs included.

Managed services often disable ``CONFIG``; then the answer is ``unknown`` and the operator
is asked to check with the provider. Nothing here changes the server's configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

UNKNOWN = "unknown"


@dataclass(frozen=True)
class BrokerDurability:
    """The server's answer and what it means for queued jobs.

    ``problems`` are ways jobs could be lost silently, each with its fix (health reports
    them as degraded); ``notes`` are weaker caveats worth knowing.
    """

    appendonly: str
    save: str
    maxmemory_policy: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return not self.problems

    def details(self) -> dict[str, Any]:
        """For health details and the start log line."""
        found: dict[str, Any] = {
            "appendonly": self.appendonly,
            "save": self.save,
            "maxmemory_policy": self.maxmemory_policy,
        }
        if self.problems:
            found["problems"] = list(self.problems)
        if self.notes:
            found["notes"] = list(self.notes)
        return found


async def _config(redis: Any, name: str) -> str:
    try:
        answer = await redis.config_get(name)
    except RedisError:  # CONFIG renamed, disabled or not allowed for this user
        return UNKNOWN
    value = answer.get(name) if isinstance(answer, dict) else None
    if value is None:
        return UNKNOWN
    return value.decode() if isinstance(value, bytes) else str(value)


async def read_durability(redis: Any, endpoint: str) -> BrokerDurability:
    """Ask the server (``CONFIG GET``) and judge; never raises for a disabled CONFIG."""
    appendonly = await _config(redis, "appendonly")
    save = await _config(redis, "save")
    policy = await _config(redis, "maxmemory-policy")
    problems: list[str] = []
    notes: list[str] = []
    if appendonly == "no" and save.strip() == "":
        problems.append(
            f'Redis at {endpoint} persists nothing (appendonly no, save ""): a restart '
            "loses every queued job. Fix: set `appendonly yes` and `appendfsync everysec` "
            "in redis.conf (or `CONFIG SET appendonly yes` then `CONFIG REWRITE`)"
        )
    elif appendonly == "no" and save != UNKNOWN:
        notes.append(
            f"Redis at {endpoint} keeps RDB snapshots only (save {save}): a crash loses the "
            "jobs queued since the last snapshot; `appendonly yes` narrows that to about 1 s"
        )
    if policy not in ("noeviction", UNKNOWN):
        problems.append(
            f"Redis at {endpoint} has maxmemory-policy {policy}: under memory pressure it "
            "deletes keys, queued jobs included. Fix: set `maxmemory-policy noeviction` "
            "(enqueue then fails loudly with an out-of-memory error instead)"
        )
    if UNKNOWN in (appendonly, save, policy):
        notes.append(
            f"Redis at {endpoint} does not answer CONFIG GET (disabled or not permitted): "
            "whether it persists jobs and never evicts them is unknown. Check with its "
            "operator that appendonly is yes and maxmemory-policy is noeviction"
        )
    return BrokerDurability(appendonly, save, policy, problems, notes)
