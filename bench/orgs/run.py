"""Benchmark: the overhead of ``CurrentOrg`` + a role check, and of API-key authentication,
on a route, against the same kind of route with ``CurrentUser`` only.

One composed app (SQLite, ``auth-jwt``, ``organizations``, ``api-keys``, console email,
``framework-fastapi``) serves a small bench pattern with three routes that answer the same
small JSON object:

- ``GET /b/user`` — ``CurrentUser`` only: the baseline every ratio is computed against,
  called with an access token;
- ``GET /b/org`` — ``CurrentOrg`` + ``require_org_role("member")``, the organization named
  by ``X-Organization``: one membership read per request, as the issue requires (no role
  is trusted from a token);
- ``GET /b/user`` called with a personal API key, and ``GET /b/org`` with an organization's
  key (which needs no header).

The app is called as ASGI in this process (no sockets, no wrk): on a shared machine that
compares just what differs with far less noise than HTTP rounds. Sides are interleaved in
many short rounds, the order rotating every round; a ratio is baseline time / side time
over all rounds (a throughput ratio), with the median of per-round ratios as a
cross-check.

Each side's SQL statements per request (counted with SQLAlchemy's
``before_cursor_execute``, outside the timed rounds) are printed beside its figure: on
SQLite every statement costs a few hops to aiosqlite's thread, which is most of what a
side costs beyond the baseline, so the count says where a ratio comes from.

    .venv/bin/python bench/orgs/run.py [--rounds 30] [--requests 300] [--quick] [--json PATH]
                                       [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter
from sqlalchemy import event

import rainmaker
from rainmaker.capabilities.api_keys import ApiKeys
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.organizations import Organizations, org_principal
from rainmaker.http import CurrentOrg, CurrentUser, require_org_role
from rainmaker.testing.harness import build_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.asgi_calls import http_scope, timed_calls
from bench.results import Result as Row
from bench.results import write_results

SECRET = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "bench password that is long enough"

router = APIRouter()


@router.get("/user")
async def as_user(user: CurrentUser) -> dict[str, Any]:
    return {"id": 1, "name": "item", "by": user.id}


@router.get("/org", dependencies=[require_org_role("member")])
async def in_org(org: CurrentOrg) -> dict[str, Any]:
    return {"id": 1, "name": "item", "by": org.user_id}


class BenchSettings(rainmaker.Settings):
    """Nothing to set."""


class BenchModule(rainmaker.Module[BenchSettings]):
    """Contributes the router."""

    def router(self) -> APIRouter:
        return router


bench_pattern = rainmaker.Pattern(
    id="bench-orgs",
    version="0.1.0",
    name="Orgs bench routes",
    settings=BenchSettings,
    factory=BenchModule,
    requires=[Auth, Organizations],
    mount="/b",
)


def scope_for(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return http_scope("GET", path, [(k.lower().encode(), v.encode()) for k, v in headers.items()])


async def seconds_for(app: Any, scope: dict[str, Any], count: int) -> float:
    """Seconds for ``count`` sequential requests of ``scope`` (all must answer 200)."""
    return await timed_calls(app, scope, count)


async def statements_per_request(app: Any, scope: dict[str, Any], count: int = 20) -> float:
    """SQL statements the database driver ran per request of ``scope`` (not timed)."""
    statements = 0

    def counted(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    engine = app.services.require(Database).engine.sync_engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        await seconds_for(app, scope, count)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return statements / count


async def run(rounds: int, count: int, postgres: str | None = None) -> list[Row]:
    database: dict[str, Any] = (
        {"use": "database-postgres", "url": postgres, "auto_migrate": True}
        if postgres
        else {"use": "database-sqlite", "path": "orgs-bench.db"}
    )
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(
            {
                "db": database,
                "auth": {
                    "use": "auth-jwt",
                    "secret": SECRET,
                    "access_ttl": 3600,
                    "rate_limits": {"enabled": False},
                },
                "mail": {"use": "email-console", "default_sender": "bench@example.com"},
                "orgs": {"use": "organizations"},
                "keys": {
                    "use": "api-keys",
                    "scopes": {"items:read": "read items"},
                    # A write of the last use per request would measure SQLite, not auth.
                    "touch_interval": 3600,
                },
                "http": {"use": "framework-fastapi", "access_log": False},
                "items": {"use": "bench-orgs"},
            },
            root=Path(folder),
            name="orgsbench",
            extra_patterns=[bench_pattern],
        )
        async with app.running():
            auth = app.services.require(Auth)
            user = await auth.create_user(f"bench-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
            token = (await auth.issue_tokens(user)).access_token
            org = await app.services.require(Organizations).create(
                user.id, slug=f"bench-{uuid.uuid4().hex[:6]}", name="Bench"
            )
            keys = app.services.require(ApiKeys)
            personal = (await keys.create(user.id, "bench", ["items:read"])).secret
            org_key = (await keys.create(org_principal(org.id), "bench", ["items:read"])).secret
            bearer = {"authorization": f"Bearer {token}"}
            sides = {
                "CurrentUser, access token": scope_for("/b/user", bearer),
                "CurrentOrg + role, access token": scope_for(
                    "/b/org", {**bearer, "x-organization": org.id}
                ),
                "CurrentUser, personal API key": scope_for(
                    "/b/user", {"authorization": f"Bearer {personal}"}
                ),
                "CurrentOrg + role, org API key": scope_for(
                    "/b/org", {"authorization": f"Bearer {org_key}"}
                ),
            }
            names = list(sides)
            baseline = names[0]
            for scope in sides.values():  # warm code paths and the pool
                await seconds_for(app, scope, 50)
            times: dict[str, list[float]] = {name: [] for name in names}
            for round_no in range(rounds):
                shift = round_no % len(names)
                for name in names[shift:] + names[:shift]:
                    times[name].append(await seconds_for(app, sides[name], count))
            statements = {name: await statements_per_request(app, sides[name]) for name in names}
    total = {name: sum(values) for name, values in times.items()}
    backend = "PostgreSQL" if postgres else "SQLite"
    print(f"{rounds} interleaved rounds of {count} requests per side (in-process ASGI, {backend})")
    print(f"{'side':>34} {'req/s':>9} {'ratio':>6} {'(median round)':>15} {'SQL/request':>12}")
    figures: list[Row] = []
    done = rounds * count
    for name in names:
        ratio = total[baseline] / total[name]
        per_round = [b / s for b, s in zip(times[baseline], times[name], strict=True)]
        print(
            f"{name:>34} {done / total[name]:>9,.0f} {ratio:>6.3f} "
            f"{statistics.median(per_round):>15.3f} {statements[name]:>12.1f}"
        )
        if name == baseline:
            continue
        figures.append(
            Row(
                "orgs",
                f"GET route, {name} vs CurrentUser + access token (in-process, {backend})",
                "req/s",
                done / total[name],
                done / total[baseline],
                True,
                ">= 0.95x",
                f"{statements[name]:g} SQL statements per request, baseline "
                f"{statements[baseline]:g}",
            )
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--requests", type=int, default=300, help="per round and side")
    parser.add_argument("--quick", action="store_true", help="8 rounds of 200 requests")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on this PostgreSQL database instead of a SQLite file (its orgs, keys "
        "and auth tables are migrated and left there)",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.requests = 8, 200
    logging.disable(logging.INFO)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    write_results(args.json, asyncio.run(run(args.rounds, args.requests, args.postgres)))


if __name__ == "__main__":
    main()
