"""Modules: the running instances that patterns' factories build.

A module starts, stops and reports health, registers the services its pattern provides (in
``start``), and may contribute an HTTP router and ASGI middleware. Subclass :class:`Module`
and override what you need; every hook has a harmless default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from rainmaker.kernel.health import Health

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from rainmaker.kernel.context import AppContext
    from rainmaker.kernel.contributions import DashboardPanel, MigrationRunner, ProcessRole

S = TypeVar("S", bound=BaseModel)


@dataclass(frozen=True)
class Middleware:
    """A pure-ASGI middleware a module contributes, with ordering constraints.

    ``factory(app, **options)`` wraps the next ASGI app. ``before``/``after`` name other
    middleware that this one must run before (outside of) or after (inside of); the HTTP
    pattern computes one order from all constraints and reports a conflict as a composition
    error.
    """

    name: str
    factory: Callable[..., Any]
    options: Mapping[str, Any] = field(default_factory=dict)
    before: Sequence[str] = ()
    after: Sequence[str] = ()


class Module(Generic[S]):
    """The running form of a pattern instance.

    The kernel constructs it with the validated settings and the instance's
    :class:`~rainmaker.kernel.context.AppContext`, calls :meth:`start` in dependency order,
    :meth:`health` whenever asked, and :meth:`stop` in reverse order. Construction must do no
    I/O: ``rainmaker plan`` and ``rainmaker routes`` build modules without starting them.
    """

    def __init__(self, settings: S, ctx: AppContext) -> None:
        self.settings = settings
        self.ctx = ctx

    async def start(self) -> None:
        """Acquire resources and register the services this pattern provides."""

    async def stop(self) -> None:
        """Release resources. Called once per successful start, in reverse start order."""

    async def health(self) -> Health:
        """Report how this module is doing; must not raise and should answer quickly."""
        return Health.up()

    def router(self) -> Any | None:
        """An ``APIRouter`` (or Starlette router) to mount under the instance's prefix."""
        return None

    def middleware(self) -> Sequence[Middleware]:
        """ASGI middleware to add to the app, ordered by their constraints."""
        return ()

    def migration_runner(self) -> AbstractAsyncContextManager[MigrationRunner] | None:
        """Database patterns: a runner for the migrations of every pattern stored here.

        ``rainmaker db`` enters it on a built, *not started* app: entering connects to the
        database, leaving disconnects. ``None`` (the default): this module stores nothing.
        """
        return None

    def dashboard_panels(self) -> Sequence[DashboardPanel]:
        """Panels for the developer dashboard (a running app's queues, migrations…)."""
        return ()

    def process_roles(self) -> Mapping[str, ProcessRole]:
        """Loops this module runs in process roles, by role (``{"worker": loop}``).

        ``rainmaker worker`` starts the app and runs every ``"worker"`` contribution.
        """
        return {}
