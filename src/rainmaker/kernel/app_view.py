"""AppView: what a module may see of the app it belongs to.

A module gets the app through ``ctx.app``, but only this read-only window on it: its
name, profile and folder, its instances (in start order), their health and startup
timeline, the services registered under a capability, and the hooks the kernel owns
(``on_shutdown``). Starting, stopping, building or re-configuring the app stays with
whoever holds the :class:`~rainmaker.kernel.application.Application` (the CLI, the
server, a test).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rainmaker.kernel.application import Application
    from rainmaker.kernel.capability import Capability
    from rainmaker.kernel.health import HealthReport
    from rainmaker.kernel.instance import Instance
    from rainmaker.kernel.module import Module
    from rainmaker.kernel.timeline import Timeline

T = TypeVar("T")


class AppView:
    """A read-only view of one :class:`Application`, plus the hooks the kernel owns."""

    __slots__ = ("_application",)

    def __init__(self, application: Application) -> None:
        self._application = application

    @property
    def name(self) -> str:
        """The ``[app] name``."""
        return self._application.name

    @property
    def profile(self) -> str:
        """The active profile (``development`` unless one was chosen)."""
        return self._application.composition.profile

    @property
    def root(self) -> Path:
        """The app folder: relative paths in settings are relative to it."""
        return Path(self._application.composition.root)

    @property
    def state(self) -> str:
        """``created``, ``starting``, ``running``, ``draining``, ``stopping``, ``stopped`` or
        ``failed``."""
        return self._application.state

    @property
    def instances(self) -> Mapping[str, Instance]:
        """Every instance, in start order (read-only)."""
        return MappingProxyType(self._application.instances)

    async def health(self) -> HealthReport:
        """Every instance's health, as ``/health`` reports it."""
        return await self._application.health()

    def providers(self, capability: Capability[T]) -> Mapping[str, T]:
        """``instance -> service`` for every instance that registered ``capability``."""
        return MappingProxyType(dict(self._application.registry.providers(capability)))

    @property
    def timeline(self) -> Timeline:
        """Each instance's import, build, start and stop time, as the kernel measured them."""
        return self._application.timeline

    def on_shutdown(self, hook: Callable[[], Any]) -> None:
        """Call ``hook()`` when shutdown begins (before anything stops)."""
        self._application.on_shutdown(hook)

    def http_module(self) -> Module[Any]:
        """The module providing ``Http``, composed (for routes and the OpenAPI document)."""
        return self._application.http_module()

    def __repr__(self) -> str:
        return f"AppView({self.name!r}, state={self.state!r})"
