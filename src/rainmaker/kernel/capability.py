"""Capabilities: typed service keys that patterns provide and require.

A :class:`Capability` names a service interface (``Database``, ``Cache``…) and carries its
type, so ``services.get(Database)`` is typed as the database interface. Patterns say what
they *provide* (a capability at a version) and what they *require* (a capability, maybe
optional, maybe within a version range).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

T = TypeVar("T")


class Capability(Generic[T]):
    """A typed key for one kind of service.

    ``name`` is what compositions and error messages show; ``interface`` is the type a
    provider registers; ``version`` is the interface version providers implement by default.
    Two keys with the same name are the same capability.
    """

    __slots__ = ("description", "interface", "name", "version")

    def __init__(
        self, name: str, interface: type[T], *, version: str = "1.0", description: str = ""
    ) -> None:
        self.name = name
        self.interface = interface
        self.version = Version(version)
        self.description = description

    def optional(self) -> Requirement[T]:
        """Require this capability only if some instance provides it."""
        return Requirement(self, optional=True)

    def within(self, versions: str) -> Requirement[T]:
        """Require this capability at a version inside ``versions`` (PEP 440, e.g. ``>=1,<2``)."""
        return Requirement(self, versions=versions)

    def at(self, version: str) -> Provision[T]:
        """Provide this capability at a version other than the interface's own."""
        return Provision(self, version=Version(version))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Capability) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"Capability({self.name!r}, v{self.version})"


@dataclass(frozen=True)
class Requirement(Generic[T]):
    """What a pattern needs: a capability, whether it may be absent, and acceptable versions."""

    capability: Capability[T]
    optional: bool = False
    versions: str = ""
    specifier: SpecifierSet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            spec = SpecifierSet(self.versions)
        except InvalidSpecifier as exc:
            raise ValueError(
                f"invalid version range {self.versions!r} for {self.capability.name}: {exc}"
            ) from exc
        object.__setattr__(self, "specifier", spec)

    def within(self, versions: str) -> Requirement[T]:
        """The same requirement restricted to ``versions``."""
        return Requirement(self.capability, optional=self.optional, versions=versions)

    def accepts(self, version: Version) -> bool:
        """Whether a provider at ``version`` satisfies this requirement."""
        return self.specifier.contains(version, prereleases=True)

    def __str__(self) -> str:
        text = self.capability.name + (f" {self.versions}" if self.versions else "")
        return f"{text} (optional)" if self.optional else text


@dataclass(frozen=True)
class Provision(Generic[T]):
    """What a pattern offers: a capability at a version."""

    capability: Capability[T]
    version: Version

    def __str__(self) -> str:
        return f"{self.capability.name} {self.version}"


def as_requirement(item: Capability[Any] | Requirement[Any]) -> Requirement[Any]:
    """Normalise what a pattern wrote in ``requires``."""
    return item if isinstance(item, Requirement) else Requirement(item)


def as_provision(item: Capability[Any] | Provision[Any]) -> Provision[Any]:
    """Normalise what a pattern wrote in ``provides``."""
    return item if isinstance(item, Provision) else Provision(item, item.version)
