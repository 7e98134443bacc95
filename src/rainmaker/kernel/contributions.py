"""What a module can contribute beyond its services: migrations, process roles, panels.

The generic commands serve whatever the composed modules contribute through these doors,
never a built-in class: ``rainmaker db`` drives every :class:`MigrationRunner` a module
offers (:meth:`~rainmaker.kernel.module.Module.migration_runner`), and ``rainmaker worker``
runs every :class:`ProcessRole` modules contribute to the ``"worker"`` role
(:meth:`~rainmaker.kernel.module.Module.process_roles`), and the developer dashboard shows
every :class:`DashboardPanel` (:meth:`~rainmaker.kernel.module.Module.dashboard_panels`).
The built-in database and jobs patterns use these doors exactly as a third-party package
would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

WORKER_ROLE = "worker"


@dataclass(frozen=True)
class MigrationState:
    """Where one pattern's migrations stand on one database."""

    database: str
    """The database instance the revisions are applied to."""
    pattern_id: str
    instances: tuple[str, ...]
    """The instances of the pattern whose tables these are."""
    current: tuple[str, ...]
    """Revisions applied in the database (empty: none yet)."""
    heads: tuple[str, ...]
    """The newest revisions in the pattern's code."""

    @property
    def up_to_date(self) -> bool:
        return set(self.current) == set(self.heads)


@runtime_checkable
class MigrationRunner(Protocol):
    """Runs the migrations of every pattern stored in one database.

    ``name`` arguments are a pattern id or an instance name (``--pattern`` of the command);
    a name the runner does not hold raises :class:`~rainmaker.kernel.errors.PatternError`.
    """

    @property
    def database(self) -> str:
        """The database instance this runner migrates."""
        ...

    def pattern_ids(self) -> Sequence[str]:
        """Ids of the patterns whose migrations run here, in dependency order."""
        ...

    def handles(self, name: str) -> bool:
        """Whether ``name`` is one of those patterns or one of their instances."""
        ...

    async def status(self) -> Sequence[MigrationState]: ...

    async def upgrade(self, name: str | None = None) -> Sequence[str]:
        """Apply missing revisions (of one pattern, or all); return what moved."""
        ...

    async def downgrade(self, name: str, target: str) -> str:
        """Move one pattern back to ``target`` (a revision, ``-1`` or ``base``)."""
        ...

    async def revision(self, name: str, message: str, *, autogenerate: bool = False) -> Path:
        """Write a new revision file into the pattern's migrations package."""
        ...


@dataclass(frozen=True)
class RoleOptions:
    """What the command running a role passes on (``rainmaker worker --queues …``)."""

    queues: Sequence[str] | None = None
    concurrency: int | None = None


@runtime_checkable
class ProcessRole(Protocol):
    """A long-running loop a module contributes to a process role (``"worker"``).

    The command starts the app, awaits :meth:`run` of every contribution at once, and calls
    :meth:`stop` on SIGTERM/SIGINT; ``run`` then drains (finishing work in flight within
    its own bound) and returns.
    """

    async def run(self, options: RoleOptions) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class PanelTable:
    """What a dashboard panel shows: a table (cells are text) and an optional note."""

    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    note: str = ""
    """One line under the table: a count, or why some data is missing."""


@dataclass(frozen=True)
class DashboardPanel:
    """A panel a module contributes to the developer dashboard.

    ``read(limit)`` returns the table, at most ``limit`` rows (the dashboard's setting);
    it is awaited within the dashboard's status timeout at every refresh, and whatever it
    shows passes the dashboard's secret scrubber. A panel that fails or times out shows
    why; it never breaks the page.
    """

    title: str
    read: Callable[[int], Awaitable[PanelTable]]

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("a dashboard panel needs a title: DashboardPanel(title='…', read=…)")


@dataclass(frozen=True)
class DocsSection:
    """A section a pattern adds to its page of the docs site (``rainmaker docs build``).

    ``markdown`` is CommonMark (tables allowed, raw HTML not), rendered under ``title``
    after the generated parts of the page (settings, routes, migrations, examples).
    Declared on the :class:`~rainmaker.kernel.pattern.Pattern` (``docs=[…]``), so the docs
    are built without building any module.
    """

    title: str
    markdown: str

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("a docs section needs a title: DocsSection(title='…', markdown='…')")
