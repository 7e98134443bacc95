"""Dead letters, tick claims and idempotency keys in the app's database (``jobs_`` tables).

Every write goes through ``db.session()``, so inside ``ctx.database.transaction()`` it joins
the caller's transaction: an idempotency key reserved by a rolled-back enqueue disappears
with it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from rainmaker import utcnow
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.jobs import FailedJob
from rainmaker.patterns.jobs.clock import as_utc
from rainmaker.patterns.jobs.messages import JobMessage, new_job_id
from rainmaker.patterns.jobs.tables import dead_letters_table, idempotency_table, ticks_table

TICK_RETENTION = timedelta(days=2)


class SqlJobStore:
    """The :class:`~rainmaker.patterns.jobs.store.JobStore` on a SQL database."""

    transactional = True

    def __init__(self, database: SqlDatabase) -> None:
        self._db = database

    async def dead_letter(self, message: JobMessage, error: str) -> str:
        failed_id = new_job_id()
        async with self._db.session() as session:
            await session.execute(
                insert(dead_letters_table).values(
                    id=failed_id,
                    job_id=message.job_id,
                    name=message.name,
                    queue=message.queue,
                    message=message.encode().decode(),
                    attempts=message.attempt,
                    error=error[:4000],
                    failed_at=utcnow(),
                )
            )
        return failed_id

    async def failed(self, limit: int) -> list[FailedJob]:
        table = dead_letters_table
        async with self._db.session() as session:
            rows = (
                await session.execute(
                    select(table).order_by(table.c.failed_at.desc(), table.c.id).limit(limit)
                )
            ).all()
        jobs = []
        for row in rows:
            message = JobMessage.decode(row.message)
            jobs.append(
                FailedJob(
                    id=row.id,
                    name=row.name,
                    queue=row.queue,
                    args=message.args,
                    kwargs=message.kwargs,
                    attempts=row.attempts,
                    error=row.error,
                    failed_at=row.failed_at,
                )
            )
        return jobs

    async def take_failed(self, failed_id: str) -> JobMessage | None:
        table = dead_letters_table
        # Read, then delete and count: MySQL has no DELETE … RETURNING. Of two callers
        # taking the same dead letter, only the one whose DELETE removed the row gets it.
        async with self._db.session() as session:
            message = await session.scalar(select(table.c.message).where(table.c.id == failed_id))
            if message is None:
                return None
            result: Any = await session.execute(delete(table).where(table.c.id == failed_id))
            if not result.rowcount:
                return None
        return JobMessage.decode(message)

    async def count_failed(self) -> int:
        async with self._db.session() as session:
            query = select(func.count()).select_from(dead_letters_table)
            return int((await session.execute(query)).scalar_one())

    async def claim_tick(self, name: str, tick: Any, owner: str) -> bool:
        tick = as_utc(tick)
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    insert(ticks_table).values(
                        name=name, tick=tick, claimed_at=utcnow(), claimed_by=owner
                    )
                )
        except IntegrityError:
            return False
        async with self._db.session() as session:  # keep the table small
            await session.execute(
                delete(ticks_table).where(
                    ticks_table.c.name == name, ticks_table.c.tick < tick - TICK_RETENTION
                )
            )
        return True

    async def reserve_key(self, key: str, job_id: str, ttl: float) -> str | None:
        table = idempotency_table
        now = utcnow()
        # A savepoint inside the caller's transaction: a duplicate key must not abort it.
        for _ in range(2):
            async with self._db.transaction() as session:
                row = (
                    await session.execute(
                        select(table.c.job_id, table.c.expires_at).where(table.c.key == key)
                    )
                ).first()
                if row is not None and row.expires_at > now:
                    return str(row.job_id)
                if row is not None:
                    await session.execute(delete(table).where(table.c.key == key))
            try:
                async with self._db.transaction() as session:
                    await session.execute(
                        insert(table).values(
                            key=key,
                            job_id=job_id,
                            done=0,
                            expires_at=now + timedelta(seconds=ttl),
                        )
                    )
                return None
            except IntegrityError:
                continue  # another enqueue won the race: read its job id
        return None

    async def mark_done(self, key: str, ttl: float) -> None:
        table = idempotency_table
        expires = utcnow() + timedelta(seconds=ttl)
        async with self._db.session() as session:
            result: Any = await session.execute(
                table.update().where(table.c.key == key).values(done=1, expires_at=expires)
            )
            if not result.rowcount:
                await session.execute(
                    insert(table).values(key=key, job_id="", done=1, expires_at=expires)
                )

    async def is_done(self, key: str) -> bool:
        table = idempotency_table
        async with self._db.session() as session:
            row = (await session.execute(select(table.c.done).where(table.c.key == key))).first()
        return row is not None and bool(row.done)


def failed_as_json(job: FailedJob) -> dict[str, Any]:
    """A dead letter as JSON values (for ``rainmaker jobs failed --json``)."""
    return {
        "id": job.id,
        "name": job.name,
        "queue": job.queue,
        "args": json.loads(json.dumps(list(job.args))),
        "kwargs": dict(job.kwargs),
        "attempts": job.attempts,
        "error": job.error,
        "failed_at": job.failed_at.isoformat(),
    }
