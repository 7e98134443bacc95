"""Instance: one named use of a pattern in a composition, with its validated settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from rainmaker.kernel.pattern import Pattern

if TYPE_CHECKING:
    from rainmaker.kernel.module import Module


@dataclass(eq=False)
class Instance:
    """A pattern instance: declaration (``name``, ``pattern``, ``settings``…) and runtime.

    ``bindings`` maps each required capability to the instance resolution chose for it;
    ``module`` is set once the app builds it.
    """

    name: str
    pattern: Pattern[Any]
    settings: BaseModel
    mount: str | None = None
    providers: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    bindings: dict[str, str] = field(default_factory=dict)
    module: Module[Any] | None = None

    @property
    def prefix(self) -> str:
        """The URL prefix for this instance's routes: ``mount``, else the pattern's default."""
        return (self.mount if self.mount is not None else self.pattern.mount) or ""
