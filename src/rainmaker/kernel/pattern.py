"""The pattern contract: what a pattern declares about itself.

A :class:`Pattern` is plain data: an id, a version, a settings model, what it provides and
requires, and a factory that builds its :class:`~rainmaker.kernel.module.Module`. The factory
may be given as a ``"package.module:Name"`` string so that declaring (and listing) a pattern
never imports its heavy dependencies; they load only when the module is built.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, model_validator

from rainmaker.kernel.capability import (
    Capability,
    Provision,
    Requirement,
    as_provision,
    as_requirement,
)
from rainmaker.kernel.contributions import DocsSection
from rainmaker.kernel.unset import unset_empty_optionals

if TYPE_CHECKING:
    from rainmaker.kernel.context import AppContext
    from rainmaker.kernel.module import Module

S = TypeVar("S", bound=BaseModel)

PATTERN_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

Factory = Callable[[Any, "AppContext"], "Module[Any]"]


class Settings(BaseModel):
    """Base for pattern settings: unknown keys are errors, settings are immutable, and
    ``""`` unsets an optional setting (TOML has no null; see :mod:`rainmaker.kernel.unset`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_string_unsets(cls, data: Any) -> Any:
        return unset_empty_optionals(cls, data)


@dataclass(frozen=True, eq=False)
class Pattern(Generic[S]):
    """A versioned, installable unit of backend functionality.

    ``factory`` is called as ``factory(settings, ctx)`` and returns the module; a string
    ``"module:attr"`` is imported on first use. ``mount`` is the default URL prefix for the
    module's routes; ``migrations`` the importable package holding its Alembic revisions and
    ``table_prefix`` the prefix every table it owns must carry. ``examples`` are settings
    mappings that must validate against ``settings``. ``starts_last`` makes every instance
    of this pattern start after all instances of patterns that do not set it, and so stop
    before them: the HTTP framework serves everyone's routes, so it comes up last and
    stops taking requests first. ``docs`` are sections the docs site adds to the pattern's
    page.
    """

    id: str
    version: str
    name: str
    settings: type[S]
    factory: Factory | str
    description: str = ""
    provides: Sequence[Capability[Any] | Provision[Any]] = ()
    requires: Sequence[Capability[Any] | Requirement[Any]] = ()
    examples: Sequence[Mapping[str, Any]] = ()
    mount: str | None = None
    migrations: str | None = None
    table_prefix: str | None = None
    starts_last: bool = False
    docs: Sequence[DocsSection] = ()
    provisions: tuple[Provision[Any], ...] = field(init=False, repr=False)
    requirements: tuple[Requirement[Any], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not PATTERN_ID.match(self.id):
            raise ValueError(
                f"pattern id {self.id!r} must be lowercase words joined by '-', e.g. 'auth-jwt'"
            )
        try:
            Version(self.version)
        except InvalidVersion as exc:
            raise ValueError(f"pattern {self.id}: version {self.version!r} is not valid") from exc
        for section in self.docs:
            if not isinstance(section, DocsSection):
                raise ValueError(
                    f"pattern {self.id}: docs holds a {type(section).__name__}; "
                    "write docs=[DocsSection(title, markdown)]"
                )
        object.__setattr__(self, "provisions", tuple(as_provision(p) for p in self.provides))
        object.__setattr__(self, "requirements", tuple(as_requirement(r) for r in self.requires))

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)

    def build(self, settings: S, ctx: AppContext) -> Module[S]:
        """Build the module for one instance (imports the factory when given by name)."""
        factory = self.factory
        if isinstance(factory, str):
            module_name, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module_name), attr)
        return factory(settings, ctx)

    def __repr__(self) -> str:
        return f"Pattern({self.id!r}, {self.version!r})"
