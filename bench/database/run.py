"""Database benchmark: the pattern's ``session()`` against raw SQLAlchemy on the same engine.

Each operation is one unit of work with an INSERT and a SELECT of the row just written
(two round trips and a commit). Both sides use the very same engine and pool that the
database pattern built, so the difference is only what ``db.session()`` adds: the
task-bound unit of work, on_commit bookkeeping and error translation. The two sides
alternate every few operations to cancel drift.

Run (PostgreSQL on 127.0.0.1:5432; a throwaway database is created and dropped):

    .venv/bin/python bench/database/run.py [--ops 2000] [--rounds 5] [--backend ...] [--durable]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from rainmaker.capabilities.database import Database, SqlDatabase
from rainmaker.testing.harness import build_app
from rainmaker.testing.servers import server_reachable

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.results import Result as Row
from bench.results import write_results

metadata = MetaData()
items = Table(
    "bench_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("label", String(50), nullable=False),
)

Operation = Callable[[int], Awaitable[None]]


def pattern_operation(db: SqlDatabase) -> Operation:
    async def run(n: int) -> None:
        async with db.session() as session:
            new_id = (
                await session.execute(insert(items).values(label=f"p{n}").returning(items.c.id))
            ).scalar_one()
            await session.execute(select(items.c.label).where(items.c.id == new_id))

    return run


def raw_operation(engine: AsyncEngine) -> Operation:
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def run(n: int) -> None:
        async with sessions() as session, session.begin():
            new_id = (
                await session.execute(insert(items).values(label=f"r{n}").returning(items.c.id))
            ).scalar_one()
            await session.execute(select(items.c.label).where(items.c.id == new_id))

    return run


async def timed(operation: Operation, ops: int, start: int = 0) -> float:
    """Seconds taken by ``ops`` sequential operations."""
    began = time.perf_counter()
    for n in range(start, start + ops):
        await operation(n)
    return time.perf_counter() - began


async def bench(
    settings: dict[str, object], root: Path, ops: int, rounds: int, batch: int
) -> tuple[float, float, float]:
    """``(pattern ops/s, raw ops/s, median per-round ratio)``.

    Within each round the two sides alternate every ``batch`` operations (the order
    flipping each time), so disk and machine noise fall on both alike.
    """
    app = build_app({"db": settings}, root=root, name="bench")
    async with app.running():
        db = app.services.require(Database)
        async with db.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.run_sync(metadata.create_all)
        ours, raw = pattern_operation(db), raw_operation(db.engine)
        await timed(ours, batch)  # warm up both paths (pool, statement caches)
        await timed(raw, batch)
        ours_total = raw_total = 0.0
        ratios = []
        for _round in range(rounds):
            ours_time = raw_time = 0.0
            for step in range(ops // batch):
                first_ours = step % 2 == 0
                for is_ours in (first_ours, not first_ours):
                    if is_ours:
                        ours_time += await timed(ours, batch, step * batch)
                    else:
                        raw_time += await timed(raw, batch, step * batch)
            ratios.append(raw_time / ours_time)  # ours/raw throughput
            ours_total += ours_time
            raw_total += raw_time
        async with db.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
    count = rounds * (ops // batch) * batch
    return count / ours_total, count / raw_total, statistics.median(ratios)


async def admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(
        host="127.0.0.1", port=5432, user="postgres", database="postgres"
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=2000, help="operations per side per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=50, help="operations per alternation")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="keep fsync on every commit (default: off, so the disk does not drown the "
        "difference being measured)",
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds of 500 ops")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.ops = 3, 500
    results = []
    with tempfile.TemporaryDirectory() as folder:
        if args.backend in ("sqlite", "both"):
            settings: dict[str, object] = {
                "use": "database-sqlite",
                "path": "bench.db",
                "synchronous": "full" if args.durable else "normal",
            }
            results.append(
                ("sqlite", *await bench(settings, Path(folder), args.ops, args.rounds, args.batch))
            )
        if args.backend in ("postgres", "both"):
            reason = server_reachable("127.0.0.1", 5432)
            if reason is not None:
                print(f"postgres: skipped, 127.0.0.1:5432 not reachable ({reason})")
            else:
                name = f"rm_bench_{uuid.uuid4().hex[:10]}"
                await admin(f'CREATE DATABASE "{name}"')
                if not args.durable:
                    await admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
                try:
                    settings = {
                        "use": "database-postgres",
                        "url": f"postgresql://postgres@127.0.0.1:5432/{name}",
                        "auto_migrate": True,
                    }
                    figures = await bench(settings, Path(folder), args.ops, args.rounds, args.batch)
                    results.append(("postgres", *figures))
                finally:
                    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"{'backend':<10}{'session() ops/s':>18}{'raw ops/s':>14}{'ratio':>8}{'median':>8}")
    for backend, ours, raw, median in results:
        print(f"{backend:<10}{ours:>18,.0f}{raw:>14,.0f}{ours / raw:>8.3f}{median:>8.3f}")
    write_results(
        args.json,
        [
            Row("database", f"{backend}: db.session() unit of work vs raw SQLAlchemy", "ops/s",
                ours, raw, True, ">= 0.95x")
            for backend, ours, raw, _median in results
        ],
    )


if __name__ == "__main__":
    asyncio.run(main())
