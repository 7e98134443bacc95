"""Which pattern a profiled frame belongs to: time by pattern instance, not by function.

Both ``rainmaker profile`` (a load it drives) and the observability pattern's operator
profile (the running process, from the dashboard) charge each sampled frame to the
innermost frame of a known owner on its stack: the package of a built-in pattern
(``rainmaker.patterns.<family>`` → the instances that use it), an app-local pattern's
module, any other module in the app folder (by its path), the kernel. So SQLAlchemy work
under the database pattern counts for that database, and what no owner claims (the event
loop waiting, libraries called outside a pattern) is :data:`OTHER`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyinstrument.frame import Frame

    from rainmaker.kernel.instance import Instance

KERNEL = "rainmaker (kernel)"
OTHER = "other (event loop, libraries called outside a pattern)"


@dataclass
class ProfileOwners:
    """Which file belongs to whom: path prefixes, longest first, mapped to an owner label."""

    prefixes: list[tuple[str, str]]
    app_root: str
    instances: dict[str, list[str]]
    """Owner label -> the instance names it stands for (every instance once)."""

    @classmethod
    def of(
        cls,
        instances: Iterable[Instance],
        app_root: Path,
        *,
        apart: Mapping[str, str] | None = None,
    ) -> ProfileOwners:
        """Owners for ``instances`` of the app at ``app_root``; ``apart`` maps more module
        names to labels of their own (a load generator's client, shown apart)."""
        packages: dict[str, list[str]] = {}
        for instance in instances:
            path = _owner_path(instance.pattern.factory, instance.module)
            packages.setdefault(path or f"<{instance.name}>", []).append(instance.name)
        prefixes: list[tuple[str, str]] = []
        labels: dict[str, list[str]] = {}
        for path, names in packages.items():
            label = ", ".join(names)
            labels[label] = names
            if not path.startswith("<"):
                prefixes.append((path, label))
        for module, label in {"rainmaker.kernel": KERNEL, **(apart or {})}.items():
            folder = Path(importlib.import_module(module).__file__ or "").parent
            prefixes.append((f"{folder}/", label))
        prefixes.sort(key=lambda item: len(item[0]), reverse=True)
        return cls(prefixes, str(app_root.resolve()) + "/", labels)

    def owner(self, file_path: str | None) -> str | None:
        """The owner label of ``file_path``, or ``None`` when nobody claims it."""
        if not file_path:
            return None
        for prefix, label in self.prefixes:
            if file_path == prefix or file_path.startswith(prefix):
                return label
        if file_path.startswith(self.app_root) and "/.venv/" not in file_path:
            return f"app: {file_path[len(self.app_root) :]}"
        return None

    def attribute(self, root: Frame) -> tuple[dict[str, float], float]:
        """Seconds of self time per owner (the innermost owned frame on each stack), and
        the sampled total; every instance is listed, at zero if it never ran."""
        totals: dict[str, float] = dict.fromkeys(self.instances, 0.0)
        stack: list[tuple[Frame, str]] = [(root, OTHER)]
        while stack:
            frame, inherited = stack.pop()
            owner = self.owner(frame.file_path) or inherited
            own = frame.time - sum(child.time for child in frame.children)
            if own > 0:
                totals[owner] = totals.get(owner, 0.0) + own
            stack.extend((child, owner) for child in frame.children)
        return totals, root.time

    @staticmethod
    def ranked(by_owner: Mapping[str, float]) -> Iterator[tuple[str, float]]:
        """``(owner, seconds)`` of an :meth:`attribute` result, the costliest first."""
        yield from sorted(by_owner.items(), key=lambda item: item[1], reverse=True)


def _owner_path(factory: object, module: object) -> str | None:
    """The folder of a built-in pattern's package, or the file of an app-local one."""
    name = factory.partition(":")[0] if isinstance(factory, str) else type(module).__module__
    parts = name.split(".")
    if parts[:2] == ["rainmaker", "patterns"] and len(parts) > 2:
        package = sys.modules.get(".".join(parts[:3]))
        file = getattr(package, "__file__", None)
        return str(Path(file).parent) + "/" if file else None
    loaded = sys.modules.get(name)
    file = getattr(loaded, "__file__", None)
    if file is None:
        return None
    path = Path(file)
    return str(path.parent) + "/" if path.name == "__init__.py" else str(path)
