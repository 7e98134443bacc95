"""Per-pattern Alembic migrations: one branch and one version table per pattern.

Every pattern that owns tables names an importable package of Alembic revisions
(``Pattern.migrations``) and a table prefix (``Pattern.table_prefix``, default: its id with
``_``). Each package is a self-contained linear branch whose position is kept in the
pattern's own version table ``<prefix>alembic_version`` — so third-party patterns never
share a revision graph, and a pattern's state is read and changed on its own. Branches run
in the app's dependency order (its start order).

No ``env.py`` is needed: :class:`Migrator` drives Alembic's ``EnvironmentContext`` itself
on the instance's engine. While a branch runs, a guard inspects every SQL statement and
refuses (rolling the whole upgrade back) any that creates, changes or writes a table
outside the pattern's prefix, or references one in a foreign key. On MySQL and MariaDB,
where DDL cannot be rolled back, the statements are checked before any of them runs.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import logging
import re
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, column, event, inspect, select, table
from sqlalchemy.engine import Connection

from rainmaker.patterns.database.errors import MigrationError, MigrationRefusedError
from rainmaker.patterns.database.migration_lock import migration_lock

# Alembic is imported where it is used, not here: importing it pulls every dialect it
# supports (PostgreSQL, MySQL, MSSQL, Oracle), Mako and Pygments — a few hundred ms of a
# cold start — while a running app only reads where each branch stands, which needs none
# of it (see ``_current`` and ``_declared_heads``).
if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy.ext.asyncio import AsyncConnection

    from rainmaker import AppView, Pattern
    from rainmaker.patterns.database.database import SqlAlchemyDatabase

TEMPLATE_DIR = Path(__file__).with_name("alembic_template")
NON_TRANSACTIONAL_DDL = frozenset({"mysql", "mariadb"})
DATABASE_CAPABILITY = "Database"


class _QuietAlembic:
    """While a migrator talks to Alembic, its INFO narration ("Context impl SQLiteImpl.")
    is held back: our own events say what was upgraded.

    Scoped, not set at import: importing this module leaves the ``alembic`` logger as the
    app configured it, and a level set on it explicitly (``DEBUG`` to see the narration)
    is respected. Runs may overlap (two databases migrating in one event loop: Alembic runs
    in greenlets that yield to the loop), so the level is saved when the first run begins
    and restored when the last one ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = logging.NOTSET

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                logger = logging.getLogger("alembic")
                self._saved = logger.level
                if self._saved == logging.NOTSET:  # inherited from the root: quieten
                    logger.setLevel(logging.WARNING)
            self._depth += 1

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                logging.getLogger("alembic").setLevel(self._saved)


_quiet_alembic = _QuietAlembic()


@dataclass(frozen=True)
class Branch:
    """One pattern's migrations on one database."""

    pattern_id: str
    instances: tuple[str, ...]
    package: str
    directory: Path
    prefix: str

    @property
    def version_table(self) -> str:
        return f"{self.prefix}alembic_version"

    @property
    def label(self) -> str:
        """``pattern (instance, …)`` for messages."""
        names = ", ".join(self.instances)
        return self.pattern_id if names == self.pattern_id else f"{self.pattern_id} ({names})"

    def script(self) -> ScriptDirectory:
        from alembic.script import ScriptDirectory

        return ScriptDirectory(str(TEMPLATE_DIR), version_locations=[str(self.directory)])

    def matches(self, name: str) -> bool:
        """Whether ``name`` (from ``--pattern``) is this pattern's id or one of its instances."""
        return name == self.pattern_id or name in self.instances


@dataclass(frozen=True)
class BranchStatus:
    """Where a branch stands: revisions applied in the database and heads in the code."""

    branch: Branch
    current: tuple[str, ...]
    heads: tuple[str, ...]

    @property
    def up_to_date(self) -> bool:
        return set(self.current) == set(self.heads)


def table_prefix(pattern: Pattern[Any]) -> str:
    """The prefix of every table ``pattern`` owns."""
    prefix = pattern.table_prefix or pattern.id.replace("-", "_")
    return prefix if prefix.endswith("_") else prefix + "_"


def branch_of(pattern: Pattern[Any], instances: Sequence[str]) -> Branch:
    """The migration branch of ``pattern`` (its package must be importable)."""
    package = pattern.migrations
    if package is None:
        raise MigrationError(f"pattern {pattern.id} declares no migrations", pattern_id=pattern.id)
    try:
        spec = importlib.util.find_spec(package)
    except ImportError as error:
        spec = None
        reason = str(error)
    else:
        reason = "no such package"
    if spec is None or not spec.submodule_search_locations:
        raise MigrationError(
            f"migrations package {package!r} of pattern {pattern.id} cannot be imported ({reason})",
            pattern_id=pattern.id,
            hint="Pattern.migrations must name an importable package (a folder with "
            "__init__.py) holding the Alembic revision files",
        )
    return Branch(
        pattern_id=pattern.id,
        instances=tuple(instances),
        package=package,
        directory=Path(next(iter(spec.submodule_search_locations))),
        prefix=table_prefix(pattern),
    )


def branches_on(app: AppView, database_instance: str) -> list[Branch]:
    """Branches of every pattern that keeps its tables on ``database_instance``, in start
    order: the database pattern itself and each instance bound to it for ``Database``."""
    instances_of: dict[str, list[str]] = {}
    patterns: dict[str, Pattern[Any]] = {}
    for instance in app.instances.values():
        if instance.pattern.migrations is None:
            continue
        on_it = instance.name == database_instance or (
            instance.bindings.get(DATABASE_CAPABILITY) == database_instance
        )
        if on_it:
            patterns.setdefault(instance.pattern.id, instance.pattern)
            instances_of.setdefault(instance.pattern.id, []).append(instance.name)
    return [branch_of(patterns[pid], names) for pid, names in instances_of.items()]


# -- the prefix guard ---------------------------------------------------------------------

_NAME = r'(?:"[^"]+"|`[^`]+`|\[[^\]]+\]|[\w$]+)(?:\.(?:"[^"]+"|`[^`]+`|[\w$]+))?'
_TOUCHES = re.compile(
    r"(?:\bCREATE (?:UNLOGGED |TEMP |TEMPORARY )?TABLE (?:IF NOT EXISTS )?"
    r"|\bALTER TABLE (?:IF EXISTS )?(?:ONLY )?"
    r"|\bDROP TABLE (?:IF EXISTS )?"
    r"|\bINSERT (?:OR \w+ )?INTO "
    r"|(?<!\bON )(?<!\bFOR )(?<!\bDO )(?<!\bNO )\bUPDATE (?:ONLY )?"
    r"|\bDELETE FROM (?:ONLY )?"
    r"|\bTRUNCATE (?:TABLE )?(?:ONLY )?"
    r"|\bREFERENCES "
    r"|\bRENAME TO "
    r"|\bCREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?(?:" + _NAME + r" )?ON "
    r"(?:ONLY )?)"
    r"(" + _NAME + ")",
    re.IGNORECASE,
)
_LITERALS = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.DOTALL)
_BATCH_TEMP = "_alembic_tmp_"


def tables_touched(statement: str) -> list[str]:
    """Names of the tables ``statement`` creates, changes, writes or references."""
    flat = " ".join(_LITERALS.sub("''", statement).split())
    names = []
    for match in _TOUCHES.finditer(flat):
        name = match.group(1).split(".")[-1].strip('"`[]')
        names.append(name)
    return names


def _check(branch: Branch, statement: str) -> None:
    """Raise :class:`MigrationRefusedError` when ``statement`` touches a table outside
    ``branch``'s prefix."""
    for name in tables_touched(statement):
        bare = name.removeprefix(_BATCH_TEMP)
        if not bare.lower().startswith(branch.prefix.lower()):
            excerpt = " ".join(statement.split())[:160]
            raise MigrationRefusedError(
                f"a migration of {branch.pattern_id} touches table {name!r}, outside its "
                f"prefix {branch.prefix!r}; nothing was applied (statement: {excerpt})",
                pattern_id=branch.pattern_id,
                hint=f"a pattern creates and changes only its own tables ({branch.prefix}*); "
                "refer to other patterns' rows by id, not by foreign key",
            )


def _guard(branch: Branch) -> Callable[..., None]:
    def check(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        _check(branch, statement)

    return check


# -- running Alembic ----------------------------------------------------------------------


@dataclass
class Migrator:
    """Runs, inspects and writes the migrations of the branches on one database."""

    database: SqlAlchemyDatabase
    branches: Sequence[Branch]
    log: Any = None
    lock_timeout: float = 300.0
    _scripts: dict[str, ScriptDirectory] = field(default_factory=dict, repr=False)
    # While the migration lock is held: the connection holding it, which every Alembic
    # call then uses (so the lock needs no second pooled connection).
    _locked: AsyncConnection | None = field(default=None, repr=False)
    _holding: bool = field(default=False, repr=False)

    def find(self, name: str) -> Branch:
        """The branch for a pattern id or instance name (``--pattern``)."""
        for branch in self.branches:
            if branch.matches(name):
                return branch
        known = ", ".join(b.pattern_id for b in self.branches) or "none"
        raise MigrationError(
            f"no pattern {name!r} with migrations on database {self.database.instance}",
            pattern_id=self.database.instance,
            hint=f"patterns with migrations here: {known}",
        )

    def script(self, branch: Branch) -> ScriptDirectory:
        from alembic.util import CommandError

        if branch.pattern_id not in self._scripts:
            try:
                self._scripts[branch.pattern_id] = branch.script()
            except CommandError as error:
                raise MigrationError(
                    f"migrations of {branch.pattern_id} in {branch.directory} are broken: {error}",
                    pattern_id=branch.pattern_id,
                    cause=error,
                ) from error
        return self._scripts[branch.pattern_id]

    async def status(self) -> list[BranchStatus]:
        """Every branch's current and head revisions."""
        results = []
        for branch in self.branches:
            heads = self._heads(branch)
            results.append(BranchStatus(branch, await self.current(branch), heads))
        return results

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Hold the database's migration lock (see ``migration_lock``) for the block.

        Re-entrant: a block inside another holds nothing more.
        """
        if self._holding:
            yield
            return
        async with migration_lock(self.database, timeout=self.lock_timeout, log=self.log) as c:
            self._locked, self._holding = c, True
            try:
                yield
            finally:
                self._locked, self._holding = None, False

    async def upgrade(self, branch: Branch | None = None, target: str = "heads") -> list[str]:
        """Upgrade one branch (or all, in order) to ``target``; labels of what moved.

        The whole run holds the migration lock: a second process waits, then finds the
        schema at head and moves nothing.
        """
        async with self.locked():
            return await self._upgrade(branch, target)

    async def _upgrade(self, branch: Branch | None, target: str) -> list[str]:
        moved = []
        for item in [branch] if branch is not None else list(self.branches):
            before = await self.current(item)
            if target == "heads" and set(before) == set(self._heads(item)):
                # Already there (every start of an app with auto_migrate, after the
                # first): nothing to run, so Alembic is not even imported.
                continue
            script = self.script(item)

            def steps(rev: Any, _context: Any, script: ScriptDirectory = script) -> Any:
                return script._upgrade_revs(target, rev)

            await self._run(
                item, partial(_migrate, branch=item, script=script, fn=steps, target=target)
            )
            after = await self.current(item)
            if before != after:
                moved.append(f"{item.label}: {_show(before)} -> {_show(after)}")
                if self.log is not None:
                    self.log.info(
                        "database.migrated", pattern=item.pattern_id, revision=_show(after)
                    )
        return moved

    async def downgrade(self, branch: Branch, target: str) -> str:
        """Downgrade one branch to ``target`` (a revision, ``-1`` or ``base``)."""
        async with self.locked():
            return await self._downgrade(branch, target)

    async def _downgrade(self, branch: Branch, target: str) -> str:
        script = self.script(branch)
        before = await self.current(branch)

        def steps(rev: Any, _context: Any) -> Any:
            return script._downgrade_revs(target, rev)

        await self._run(
            branch, partial(_migrate, branch=branch, script=script, fn=steps, target=target)
        )
        after = await self.current(branch)
        return f"{branch.label}: {_show(before)} -> {_show(after)}"

    async def revision(self, branch: Branch, message: str, *, autogenerate: bool = False) -> Path:
        """Write a new revision file at the head of ``branch``; its path.

        With ``autogenerate``, the branch must be up to date and its package must expose
        ``target_metadata``; only tables under the branch's prefix are compared.
        """
        script = self.script(branch)
        heads = script.get_heads()
        if len(heads) > 1:
            raise MigrationError(
                f"migrations of {branch.pattern_id} have several heads ({', '.join(heads)})",
                pattern_id=branch.pattern_id,
                hint="give each revision exactly one down_revision: a pattern's branch is linear",
            )
        code = {"upgrades": "", "downgrades": "", "imports": ""}
        if autogenerate:
            current = await self.current(branch)
            if set(current) != set(heads):
                raise MigrationError(
                    f"{branch.pattern_id} is at {_show(current)}, not at its head {_show(heads)}",
                    pattern_id=branch.pattern_id,
                    hint=f"run `rainmaker db upgrade --pattern {branch.pattern_id}` first",
                )
            metadata = _target_metadata(branch)
            code = await self._run(branch, partial(_autogenerate, branch=branch, metadata=metadata))
        from alembic.util import rev_id

        created = script.generate_revision(
            rev_id(),
            message,
            head=heads[0] if heads else "base",
            version_path=str(branch.directory),
            upgrades=code["upgrades"],
            downgrades=code["downgrades"],
            imports=code["imports"],
        )
        if created is None:  # pragma: no cover - alembic returns None only for empty templates
            raise MigrationError("alembic wrote no revision", pattern_id=branch.pattern_id)
        self._scripts.pop(branch.pattern_id, None)
        return Path(created.path)

    async def current(self, branch: Branch) -> tuple[str, ...]:
        """The revisions of ``branch`` applied in the database (empty: none yet)."""
        result: tuple[str, ...] = await self._run(branch, partial(_current, branch=branch))
        return result

    def _heads(self, branch: Branch) -> tuple[str, ...]:
        declared = _declared_heads(branch.directory)
        if declared is not None:
            return declared
        return tuple(self.script(branch).get_heads())

    async def _run(self, branch: Branch, fn: Callable[[Connection], Any]) -> Any:
        try:
            with _quiet_alembic:  # every Alembic call of the migrator runs in here
                if self._locked is not None:
                    try:
                        result = await self._locked.run_sync(fn)
                        await self._locked.commit()
                    except BaseException:
                        await self._locked.rollback()
                        raise
                    return result
                async with self.database.engine.connect() as connection:
                    result = await connection.run_sync(fn)
                    await connection.commit()
                    return result
        except MigrationError:
            raise
        except Exception as error:
            if _is_command_error(error):
                raise MigrationError(
                    f"migrations of {branch.pattern_id}: {error}",
                    pattern_id=branch.pattern_id,
                    cause=error,
                ) from error
            translated = self.database.translate(error)
            if translated is not error:
                raise translated from error
            concurrent = concurrent_change(error)
            if concurrent is not None:
                # Not the revision's fault: another process changed the schema meanwhile.
                raise MigrationError(
                    f"migration of {branch.pattern_id} collided with another process "
                    f"changing the schema ({concurrent}) and was rolled back: "
                    f"{type(error).__name__}: {_first_line(error)}",
                    pattern_id=branch.pattern_id,
                    hint="run it again: it takes the migration lock and finds the schema "
                    "where the other process left it; if this repeats, look for a process "
                    "migrating without the lock (an older Rainmaker, or a manual change)",
                    cause=error,
                ) from error
            raise MigrationError(
                f"migration of {branch.pattern_id} failed and was rolled back: "
                f"{type(error).__name__}: {error}",
                pattern_id=branch.pattern_id,
                hint="fix the revision in " + str(branch.directory),
                cause=error,
            ) from error


# SQLSTATEs and MySQL error numbers that mean "someone else was changing this at once".
_CONCURRENT_SQLSTATES = {
    "40P01": "a deadlock",
    "40001": "a serialization failure",
    "55P03": "a lock that could not be taken in time",
    "57014": "a statement cancelled while it waited",
}
_CONCURRENT_MYSQL = {1205: "a lock wait timeout", 1213: "a deadlock"}
# PostgreSQL's catalog indexes: two sessions creating the same table or type at once.
_CATALOG_INDEXES = ("pg_type_typname_nsp_index", "pg_class_relname_nsp_index")


def concurrent_change(error: BaseException) -> str | None:
    """What concurrent schema change ``error`` shows, or ``None`` when it shows none."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate in _CONCURRENT_SQLSTATES:
            return _CONCURRENT_SQLSTATES[sqlstate]
        if any(index in str(current) for index in _CATALOG_INDEXES):
            return "two sessions creating the same table at once"
        number = current.args[0] if current.args else None
        module = type(current).__module__.split(".", 1)[0]
        if module in ("asyncmy", "pymysql") and number in _CONCURRENT_MYSQL:
            return _CONCURRENT_MYSQL[number]
        orig = getattr(current, "orig", None)
        current = (
            orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
        )
    return None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _is_command_error(error: BaseException) -> bool:
    """Whether ``error`` is Alembic's ``CommandError`` (only Alembic, once imported, raises it)."""
    if "alembic.util" not in sys.modules:
        return False
    from alembic.util import CommandError

    return isinstance(error, CommandError)


def _current(connection: Connection, branch: Branch) -> tuple[str, ...]:
    """The revisions recorded in the branch's version table, as Alembic's
    ``MigrationContext.get_current_heads`` reads them (no table: none), without Alembic."""
    if not inspect(connection).has_table(branch.version_table):
        return ()
    versions: Select[Any] = select(column("version_num")).select_from(table(branch.version_table))
    return tuple(str(value) for value in connection.execute(versions).scalars())


def _declared_heads(directory: Path) -> tuple[str, ...] | None:
    """The branch's heads read from its revision files' literal ``revision`` and
    ``down_revision`` assignments, without importing Alembic or the files.

    ``None`` whenever the files are anything but plain (a value that is not a literal, a
    file without ``revision``, a duplicate, a parent that does not exist): Alembic's
    ``ScriptDirectory`` then reads them and reports what is wrong.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        files = sorted(directory.glob("*.py"))
    except OSError:
        return None
    for path in files:
        if path.name.startswith(("__init__", ".#")):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            return None
        values: dict[str, object] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                try:
                    values[target.id] = ast.literal_eval(value)
                except ValueError:
                    return None
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str) or revision in revisions:
            return None
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list) and all(isinstance(d, str) for d in down):
            parents.update(down)
        elif down is not None:
            return None
    if not parents <= revisions:
        return None
    return tuple(sorted(revisions - parents))


def _migrate(
    connection: Connection,
    branch: Branch,
    script: ScriptDirectory,
    fn: Callable[[Any, Any], Any],
    target: str,
) -> None:
    if connection.dialect.name in NON_TRANSACTIONAL_DDL:
        _check_ahead(connection, branch, script, fn, target)
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext

    guard = _guard(branch)
    event.listen(connection, "before_cursor_execute", guard)
    try:
        with EnvironmentContext(Config(), script, fn=fn, destination_rev=target) as env:
            env.configure(
                connection=connection,
                version_table=branch.version_table,
                # SQLite supports transactional DDL once the driver's implicit BEGIN is
                # off (see engine.py): a failed or refused upgrade leaves nothing behind.
                # MySQL and MariaDB commit every DDL statement implicitly, so there each
                # revision runs and is recorded in a transaction of its own instead.
                transactional_ddl=connection.dialect.name not in NON_TRANSACTIONAL_DDL,
            )
            with env.begin_transaction():
                env.run_migrations()
    finally:
        event.remove(connection, "before_cursor_execute", guard)


def _check_ahead(
    connection: Connection,
    branch: Branch,
    script: ScriptDirectory,
    fn: Callable[[Any, Any], Any],
    target: str,
) -> None:
    """Check every statement of the run before any executes, where DDL commits implicitly.

    Without transactional DDL, a statement refused while running cannot be rolled back
    together with the ones before it, so the revisions are first rendered as SQL (Alembic's
    offline mode) and checked. A revision that cannot be rendered without the database
    (one that reads data) is left to the guard at run time.
    """
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext

    heads = _current(connection, branch)
    buffer = io.StringIO()
    try:
        with EnvironmentContext(
            Config(),
            script,
            fn=fn,
            as_sql=True,
            starting_rev=heads[0] if heads else None,
            destination_rev=target,
        ) as env:
            env.configure(
                dialect_name=connection.dialect.name,
                output_buffer=buffer,
                version_table=branch.version_table,
                transactional_ddl=False,
            )
            with env.begin_transaction():
                env.run_migrations()
    except Exception as error:
        logging.getLogger(__name__).debug("offline rendering failed: %r", error)
        return
    for statement in buffer.getvalue().split(";\n"):
        _check(branch, statement)


def _target_metadata(branch: Branch) -> Any:
    module = importlib.import_module(branch.package)
    metadata = getattr(module, "target_metadata", None)
    if metadata is None:
        raise MigrationError(
            f"{branch.package} has no target_metadata to compare the database against",
            pattern_id=branch.pattern_id,
            hint=f"set target_metadata = <your MetaData> in {branch.package}/__init__.py",
        )
    return metadata


def _autogenerate(connection: Connection, branch: Branch, metadata: Any) -> dict[str, str]:
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.runtime.migration import MigrationContext

    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        if type_ != "table" or name is None:
            return True
        return name.startswith(branch.prefix) and name != branch.version_table

    context = MigrationContext.configure(
        connection,
        opts={
            "target_metadata": metadata,
            "include_name": include_name,
            "version_table": branch.version_table,
            "render_as_batch": connection.dialect.name == "sqlite",
        },
    )
    migration = produce_migrations(context, metadata)
    batch = connection.dialect.name == "sqlite"
    upgrade_ops = migration.upgrade_ops
    downgrade_ops = migration.downgrade_ops
    assert upgrade_ops is not None and downgrade_ops is not None
    return {
        "upgrades": render_python_code(
            upgrade_ops, render_as_batch=batch, migration_context=context
        ).strip(),
        "downgrades": render_python_code(
            downgrade_ops, render_as_batch=batch, migration_context=context
        ).strip(),
        "imports": "",
    }


def _show(revisions: Sequence[str]) -> str:
    return ", ".join(revisions) if revisions else "base"
