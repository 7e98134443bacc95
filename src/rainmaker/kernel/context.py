"""AppContext: what every module receives besides its settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rainmaker.capabilities.cache import Cache, CacheBackend
from rainmaker.capabilities.database import Database, SqlDatabase
from rainmaker.capabilities.jobs import JobQueue, Jobs
from rainmaker.kernel.registry import Services

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from rainmaker.kernel.app_view import AppView
    from rainmaker.kernel.composition import AppConfig
    from rainmaker.kernel.instance import Instance


@dataclass(frozen=True, eq=False)
class AppContext:
    """One instance's window on the app.

    ``env`` is the active profile (``"development"`` unless one was chosen), ``instance``
    this instance's name, ``services`` its typed view of the service registry, ``log`` a
    structlog logger bound with ``app``, ``instance`` and ``pattern``, ``config`` the
    ``[app]`` table, and ``app`` a read-only view of the application
    (:class:`~rainmaker.kernel.app_view.AppView`: its instances, state and health, and the
    hooks the kernel owns; the HTTP pattern reads routers and readiness there).
    """

    env: str
    instance: str
    services: Services
    log: FilteringBoundLogger
    config: AppConfig
    app: AppView

    @property
    def root(self) -> Path:
        """The app folder: resolve relative paths in settings against it."""
        return self.app.root

    def on_shutdown(self, hook: Callable[[], Any]) -> None:
        """Call ``hook()`` when the app begins shutting down (readiness already false)."""
        self.app.on_shutdown(hook)

    @property
    def instances(self) -> Mapping[str, Instance]:
        """Every instance of the app, in start order."""
        return self.app.instances

    @property
    def database(self) -> SqlDatabase | None:
        """This instance's ``Database`` when one is running."""
        return self.services.get(Database)

    @property
    def cache(self) -> CacheBackend | None:
        """This instance's ``Cache``, in a namespace of its own, when one is running."""
        cache = self.services.get(Cache)
        return cache.namespaced(self.instance) if cache is not None else None

    @property
    def jobs(self) -> JobQueue | None:
        """This instance's ``Jobs`` when one is running."""
        return self.services.get(Jobs)

    def __repr__(self) -> str:
        return f"AppContext(instance={self.instance!r}, env={self.env!r})"
