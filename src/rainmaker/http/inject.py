"""``Inject(capability)`` and ``PatternSettings()``: what a module-level route asks for by type.

Both are FastAPI dependencies that resolve for the instance whose router contributed the
matched route (see :mod:`rainmaker.http.owners`), so a handler declared at module level
needs no closure over its module::

    @router.get("/notes")
    async def notes(db: Annotated[SqlDatabase, Inject(Database)]) -> ...

Each dependency callable carries an :class:`Injection` marker, which the composing app
reads (:func:`injections`) to report, before anything starts, a route that asks for a
capability no composed pattern provides.

This module does not use ``from __future__ import annotations``: FastAPI reads the
annotations of the dependency functions below at runtime, and they name no module global.
"""

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends
from fastapi.dependencies.models import Dependant
from starlette.requests import HTTPConnection

from rainmaker.http.owners import owner_for
from rainmaker.http.responses import raises
from rainmaker.kernel.capability import Capability

MARKER = "__rainmaker_injection__"
"""The attribute of a dependency callable that holds its :class:`Injection`."""


@dataclass(frozen=True)
class Injection:
    """What a dependency resolves from the route's owner: a capability, or its settings.

    ``capability`` is set for ``Inject`` (and the auth dependencies, which resolve
    ``Auth``); ``settings_type`` for ``PatternSettings`` (``object`` when not checked).
    """

    capability: Capability[Any] | None = None
    settings_type: type[Any] | None = None


def Inject(capability: Capability[Any]) -> Any:
    """A dependency answering the service ``capability`` resolves to for the route's instance.

    Use it in ``Annotated[Interface, Inject(Capability)]``; the annotated type is what a
    type checker sees. The service is the one the instance's ``ctx.services.require``
    would return: the provider resolution bound it to, or the instance's own service for a
    capability its pattern provides. While none is running the route answers 503
    problem+json naming the capability and the patterns that provide it.
    """
    if not isinstance(capability, Capability):
        raise TypeError(
            f"Inject() takes a rainmaker.Capability (e.g. Inject(Database)), not "
            f"{type(capability).__name__}"
        )
    return Depends(_capability_dependency(capability))


def PatternSettings(settings_type: type[Any] | None = None) -> Any:
    """A dependency answering the validated settings of the instance that owns the route.

    ``Annotated[MySettings, PatternSettings(MySettings)]``: two instances of one pattern
    each see their own. With ``settings_type`` the composing app checks, before start,
    that the owning instance's settings are of that class.
    """
    checked: type[Any] = settings_type if settings_type is not None else object
    return Depends(_settings_dependency(checked))


def injection_of(call: object) -> Injection | None:
    """The marker of a dependency callable, if it is one of these."""
    marker = getattr(call, MARKER, None)
    return marker if isinstance(marker, Injection) else None


def injections(dependant: Dependant) -> Iterator[Injection]:
    """Every :class:`Injection` in a route's dependency tree (sub-dependencies included)."""
    for sub in dependant.dependencies:
        marker = injection_of(sub.call)
        if marker is not None:
            yield marker
        yield from injections(sub)


def mark(call: Any, injection: Injection) -> None:
    """Attach ``injection`` to a dependency callable (for dependencies built elsewhere)."""
    setattr(call, MARKER, injection)


@functools.cache
def _capability_dependency(capability: Capability[Any]) -> Any:
    # One callable per capability: FastAPI then resolves it once per request however
    # many parameters ask for it.
    @raises(503)
    async def inject(connection: HTTPConnection) -> Any:
        return owner_for(connection.scope).require(capability)

    inject.__name__ = inject.__qualname__ = f"inject_{capability.name}"
    mark(inject, Injection(capability=capability))
    return inject


_SETTINGS_DEPENDENCIES: dict[type[Any], Any] = {}


def _settings_dependency(settings_type: type[Any]) -> Any:
    # One callable per class, like _capability_dependency (a dict: classes are keys).
    known = _SETTINGS_DEPENDENCIES.get(settings_type)
    if known is not None:
        return known

    async def pattern_settings(connection: HTTPConnection) -> Any:
        owner = owner_for(connection.scope)
        if not isinstance(owner.settings, settings_type):
            raise TypeError(
                f"PatternSettings({settings_type.__name__}) on a route of {owner.instance}, "
                f"whose settings are {type(owner.settings).__name__}"
            )
        return owner.settings

    name = "" if settings_type is object else f"_{settings_type.__name__}"
    pattern_settings.__name__ = pattern_settings.__qualname__ = f"pattern_settings{name}"
    mark(pattern_settings, Injection(settings_type=settings_type))
    _SETTINGS_DEPENDENCIES[settings_type] = pattern_settings
    return pattern_settings
