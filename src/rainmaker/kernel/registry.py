"""Typed service registry.

:class:`ServiceRegistry` holds every service of one app, keyed by capability and by the
instance that provides it (an app may run two databases). Each instance sees it through
:class:`Services`, which knows who is asking and which provider the resolution chose for
each of its requirements, so ``ctx.services.require(Database)`` returns *its* database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from rainmaker.kernel.capability import Capability
from rainmaker.kernel.errors import DependencyError

T = TypeVar("T")


class ServiceRegistry:
    """Every registered service of one app: ``capability name -> instance -> service``."""

    def __init__(self) -> None:
        self._services: dict[str, dict[str, Any]] = {}
        # What each instance registered, so stopping one costs O(its services), not O(app).
        self._keys_by_instance: dict[str, set[str]] = {}

    def add(self, key: Capability[Any], instance: str, service: Any) -> None:
        self._services.setdefault(key.name, {})[instance] = service
        self._keys_by_instance.setdefault(instance, set()).add(key.name)

    def discard_instance(self, instance: str) -> None:
        """Forget what ``instance`` registered (called when it stops)."""
        for name in self._keys_by_instance.pop(instance, ()):
            providers = self._services.get(name)
            if providers is not None:
                providers.pop(instance, None)
                if not providers:
                    del self._services[name]

    def providers(self, key: Capability[Any]) -> Mapping[str, Any]:
        """``instance -> service`` for every instance that registered ``key``."""
        return self._services.get(key.name, {})


class Services:
    """One asker's typed view of the registry.

    ``asker`` names who looks things up (used in errors), ``bindings`` maps capability
    names to the provider instance chosen by resolution, and ``installed_providers`` tells
    which installed patterns could provide a capability, for the hint in errors.
    """

    __slots__ = ("_asker", "_bindings", "_installed_providers", "_registry")

    def __init__(
        self,
        registry: ServiceRegistry,
        *,
        asker: str,
        bindings: Mapping[str, str] | None = None,
        installed_providers: Callable[[str], list[str]] | None = None,
    ) -> None:
        self._registry = registry
        self._asker = asker
        self._bindings = dict(bindings or {})
        self._installed_providers = installed_providers

    def register(self, key: Capability[T], service: T) -> None:
        """Register ``service`` as this instance's provider of ``key``.

        Raises ``TypeError`` when ``service`` is not an instance of the capability's
        interface class (protocols are trusted to the type checker).
        """
        interface = key.interface
        if not getattr(interface, "_is_protocol", False) and not isinstance(service, interface):
            raise TypeError(
                f"{self._asker} registered {type(service).__name__} for {key.name}, "
                f"which needs a {interface.__name__}"
            )
        self._registry.add(key, self._asker, service)

    def get(self, key: Capability[T]) -> T | None:
        """The service for ``key`` this asker is bound to, or ``None`` when none is registered.

        With no binding and several providers, the choice is ambiguous and raises
        :class:`~rainmaker.kernel.errors.DependencyError`.
        """
        providers = self._registry.providers(key)
        bound = self._bindings.get(key.name)
        if bound is not None:
            service: T | None = providers.get(bound)
            return service
        if not providers:
            return None
        if len(providers) == 1:
            return next(iter(providers.values()))  # type: ignore[no-any-return]
        raise DependencyError(
            f"{self._asker} asked for {key.name}, which {len(providers)} instances provide "
            f"({', '.join(sorted(providers))})",
            pattern_id=self._asker,
            hint=f'add providers = {{ {key.name} = "<instance>" }} to [patterns.{self._asker}]',
        )

    def require(self, key: Capability[T]) -> T:
        """The service for ``key``; raises :class:`DependencyError` naming who could provide it."""
        service = self.get(key)
        if service is not None:
            return service
        installed = self._installed_providers(key.name) if self._installed_providers else []
        hint = (
            f"add an instance of {' or '.join(installed)} to rainmaker.toml"
            if installed
            else f"install a pattern that provides {key.name}"
        )
        raise DependencyError(
            f"{self._asker} requires {key.name}, but no running instance provides it",
            pattern_id=self._asker,
            hint=hint,
        )
