"""``scoped()`` and ``tenant_scope()`` (rainmaker.capabilities.organizations) against a real
database: two tenants' rows, and statements that try to reach the other's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped

from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.organizations import scoped, tenant_scope
from tests.patterns.organizations.conftest import MakeApp
from tests.patterns.organizations.tenant_app import projects, projects_pattern, tasks


class Base(DeclarativeBase):
    pass


class Project(Base):
    """The ORM view of the same table (``scoped`` takes entities too)."""

    __table__ = projects
    id: Mapped[str]
    org_id: Mapped[str]
    name: Mapped[str]


@dataclass
class Seeded:
    """The database and the two tenants whose rows it holds (fresh ids per test)."""

    db: SqlDatabase
    a: str
    b: str


@pytest.fixture
async def seeded(make_app: MakeApp) -> Seeded:
    A, B = "org-a-" + uuid.uuid4().hex[:8], "org-b-" + uuid.uuid4().hex[:8]
    app = await make_app(
        extra={"projects": {"use": "test-projects"}}, extra_patterns=[projects_pattern]
    )
    async with app.db.transaction() as session:
        await session.execute(
            sa.insert(projects),
            [
                {"id": f"{A}-1", "org_id": A, "name": "a1"},
                {"id": f"{A}-2", "org_id": A, "name": "a2"},
                {"id": f"{B}-1", "org_id": B, "name": "b1"},
            ],
        )
        # B's task points at A's project: a join must not hand it to either tenant.
        await session.execute(
            sa.insert(tasks),
            [
                {"id": f"{A}-t", "org_id": A, "project_id": f"{A}-1", "title": "mine"},
                {"id": f"{B}-t", "org_id": B, "project_id": f"{A}-1", "title": "planted"},
            ],
        )
    return Seeded(app.db, A, B)


async def names(db: SqlDatabase, statement: sa.Select[tuple[str]]) -> list[str]:
    async with db.session() as session:
        return sorted(await session.scalars(statement))


async def test_selects_see_one_tenant(seeded: Seeded) -> None:
    db, A, B = seeded.db, seeded.a, seeded.b
    mine = sa.select(projects.c.name).where(projects.c.org_id.in_([A, B]))
    assert await names(db, scoped(mine, A)) == ["a1", "a2"]
    assert await names(db, scoped(mine, B)) == ["b1"]
    alias = projects.alias("p")
    assert await names(db, scoped(sa.select(alias.c.name), B)) == ["b1"]
    assert await names(db, scoped(sa.select(Project.name), A)) == ["a1", "a2"]


async def test_every_joined_table_is_filtered(seeded: Seeded) -> None:
    db, A, B = seeded.db, seeded.a, seeded.b
    joined = sa.select(tasks.c.title).select_from(
        tasks.join(projects, projects.c.id == tasks.c.project_id)
    )
    assert await names(db, scoped(joined, A)) == ["mine"]
    assert await names(db, scoped(joined, B)) == []  # the planted task stays out
    implicit = sa.select(tasks.c.title, projects.c.name).where(projects.c.id == tasks.c.project_id)
    async with db.session() as session:
        rows = (await session.execute(scoped(implicit, B))).all()
    assert rows == []


async def test_updates_and_deletes_touch_one_tenant(seeded: Seeded) -> None:
    db, A, B = seeded.db, seeded.a, seeded.b
    async with db.transaction() as session:
        await session.execute(scoped(sa.update(projects).values(name="renamed"), B))
        await session.execute(scoped(sa.delete(projects).where(projects.c.id == f"{A}-1"), B))
        await session.execute(scoped(sa.update(Project).values(name="orm"), B))
    mine = sa.select(projects.c.name).where(projects.c.org_id.in_([A, B]))
    assert await names(db, mine) == ["a1", "a2", "orm"]


def test_statements_without_a_tenant_table_are_refused() -> None:
    A = "org-a"
    other = sa.table("auth_users", sa.column("id"))
    with pytest.raises(ValueError, match="org_id"):
        scoped(sa.select(other), A)
    with pytest.raises(TypeError, match="select, update or delete"):
        scoped(sa.insert(projects), A)


async def test_tenant_scope_filters_whatever_the_session_runs(seeded: Seeded) -> None:
    db, A, B = seeded.db, seeded.a, seeded.b
    async with db.session() as session:
        with tenant_scope(session, A):
            assert sorted(await session.scalars(sa.select(projects.c.name))) == ["a1", "a2"]
            assert sorted(await session.scalars(sa.select(Project.name))) == ["a1", "a2"]
            # A table without org_id runs unchanged.
            assert await session.scalar(sa.select(sa.literal(1))) == 1
            with pytest.raises(RuntimeError, match="already scoped"):
                with tenant_scope(session, B):
                    pass
        everything = sorted(
            await session.scalars(sa.select(projects.c.name).where(projects.c.org_id.in_([A, B])))
        )
        assert everything == ["a1", "a2", "b1"]
