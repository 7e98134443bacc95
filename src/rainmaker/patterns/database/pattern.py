"""The database pattern declarations (light: no SQLAlchemy import)."""

from __future__ import annotations

from rainmaker import Pattern
from rainmaker.capabilities.database import Database
from rainmaker.patterns.database.settings import MySQLSettings, PostgresSettings, SqliteSettings

MIGRATIONS = "rainmaker.patterns.database.migrations"
TABLE_PREFIX = "rainmaker_"

database_sqlite: Pattern[SqliteSettings] = Pattern(
    id="database-sqlite",
    version="1.0.0",
    name="SQLite database",
    description="Embedded SQL database in one file (WAL, foreign keys, busy timeout); "
    "no server needed.",
    settings=SqliteSettings,
    factory="rainmaker.patterns.database.module:SqliteDatabaseModule",
    provides=[Database],
    examples=[{"path": "app.db"}, {"path": "data/acme.db", "busy_timeout": 10}],
    migrations=MIGRATIONS,
    table_prefix=TABLE_PREFIX,
)

database_postgres: Pattern[PostgresSettings] = Pattern(
    id="database-postgres",
    version="1.0.0",
    name="PostgreSQL database",
    description="PostgreSQL through asyncpg with a shared pool, statement timeout and pre-ping.",
    settings=PostgresSettings,
    factory="rainmaker.patterns.database.module:PostgresDatabaseModule",
    provides=[Database],
    examples=[
        {"url": "postgresql://app:secret@127.0.0.1:5432/app"},
        {
            "url": "postgresql://app:secret@db.internal:5432/app",
            "pool_size": 20,
            "statement_timeout": 10,
            "auto_migrate": False,
        },
    ],
    migrations=MIGRATIONS,
    table_prefix=TABLE_PREFIX,
)

database_mysql: Pattern[MySQLSettings] = Pattern(
    id="database-mysql",
    version="1.0.0",
    name="MySQL / MariaDB database",
    description="MySQL 8.0+ or MariaDB 10.6+ through asyncmy with a shared pool, strict "
    "sessions, READ COMMITTED transactions, statement timeout and pre-ping.",
    settings=MySQLSettings,
    factory="rainmaker.patterns.database.module:MySQLDatabaseModule",
    provides=[Database],
    examples=[
        {"url": "mysql://app:secret@127.0.0.1:3306/app"},
        {
            "url": "mariadb://app:secret@db.internal:3306/app",
            "pool_size": 20,
            "statement_timeout": 10,
            "auto_migrate": False,
        },
    ],
    migrations=MIGRATIONS,
    table_prefix=TABLE_PREFIX,
)
