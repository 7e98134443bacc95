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

    def settings_with_sources(self) -> list[tuple[str, Any, str]]:
        """``(key, value, layer)`` for each top-level setting: the layer that set it (a
        nested key's layer stands for its table), else ``"default"``. Values are raw:
        redact them before showing them."""
        rows = []
        for key in type(self.settings).model_fields:
            source = self.sources.get(key) or next(
                (s for k, s in self.sources.items() if k.startswith(key + ".")), "default"
            )
            rows.append((key, getattr(self.settings, key), source))
        return rows

    @property
    def prefix(self) -> str:
        """The URL prefix for this instance's routes: ``mount``, else the pattern's default."""
        return (self.mount if self.mount is not None else self.pattern.mount) or ""
