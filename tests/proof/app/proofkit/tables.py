"""The tables ``proofkit`` owns (created by its migration)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

metadata = MetaData()

notes = Table(
    "proofkit_notes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per run of a job: no unique key on purpose, a doubled run shows as two rows.
runs = Table(
    "proofkit_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("key", String(200), nullable=False),
    Column("ran_at", DateTime(timezone=True), nullable=False),
)
