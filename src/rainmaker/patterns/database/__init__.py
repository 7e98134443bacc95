"""The database patterns: ``database-sqlite`` (embedded default), ``database-postgres`` and
``database-mysql`` (MySQL and MariaDB).

All provide the :data:`~rainmaker.capabilities.Database` capability: one SQLAlchemy async
engine per instance, shared by every pattern that requires it, cross-pattern transactions
bound to the current task, a transactional outbox and per-pattern Alembic migrations.
Importing this package is light; SQLAlchemy loads only when a module is built.
"""

from rainmaker.patterns.database.pattern import database_mysql, database_postgres, database_sqlite

__all__ = ["database_mysql", "database_postgres", "database_sqlite"]
