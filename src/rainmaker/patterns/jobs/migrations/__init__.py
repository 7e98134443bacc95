"""Alembic revisions of the jobs patterns (one branch, tables prefixed ``jobs_``)."""
