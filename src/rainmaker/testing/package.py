"""A pattern package on disk (or an installed pattern), as the ``pattern`` commands see it.

``rainmaker pattern test|validate|publish PATH`` work on a package folder that need not be
installed: :class:`PatternPackage` reads its ``pyproject.toml`` (name, version, the
``rainmaker.patterns`` entry points) and :meth:`PatternPackage.activate` makes it
importable *and discoverable* the way an editable install would: its source folder goes
on ``sys.path`` beside a generated ``.dist-info`` folder holding its entry points, so
``Catalog.installed()`` finds its patterns like any installed one.
"""

from __future__ import annotations

import importlib
import os
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from rainmaker.kernel.catalog import ENTRY_POINT_GROUP, Catalog
from rainmaker.kernel.pattern import Pattern


class PackageError(Exception):
    """The folder is not a usable pattern package; the message says what is missing."""


@dataclass(frozen=True)
class PatternPackage:
    """A pattern package folder: its metadata and the patterns it declares."""

    root: Path
    name: str
    version: str
    project: dict[str, Any]
    entry_points: dict[str, str]
    source: Path
    pyproject: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> PatternPackage:
        """Read the package at ``path`` (a folder with ``pyproject.toml``)."""
        root = path.resolve()
        pyproject_file = root / "pyproject.toml"
        if not pyproject_file.is_file():
            raise PackageError(f"{root} has no pyproject.toml: is it a pattern package?")
        try:
            pyproject = tomllib.loads(pyproject_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise PackageError(f"{pyproject_file} is not valid TOML: {exc}") from exc
        project = pyproject.get("project", {})
        entry_points = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
        source = root / "src" if (root / "src").is_dir() else root
        return cls(
            root=root,
            name=str(project.get("name", "")),
            version=str(project.get("version", "")),
            project=project,
            entry_points={str(k): str(v) for k, v in entry_points.items()},
            source=source,
            pyproject=pyproject,
        )

    @property
    def dist_name(self) -> str:
        """The distribution name as wheels and indexes spell it (``my_pattern``)."""
        return canonicalize_name(self.name).replace("-", "_")

    def write_dist_info(self, folder: Path) -> Path:
        """A minimal ``.dist-info`` in ``folder`` declaring the package's entry points."""
        info = folder / f"{self.dist_name}-{self.version or '0'}.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {self.name}\nVersion: {self.version or '0'}\n",
            encoding="utf-8",
        )
        lines = [f"[{ENTRY_POINT_GROUP}]"]
        lines += [f"{key} = {value}" for key, value in self.entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return info

    def environment(self, folder: Path) -> dict[str, str]:
        """Environment for a subprocess that sees the package as installed."""
        self.write_dist_info(folder)
        paths = [str(self.source), str(folder)]
        existing = os.environ.get("PYTHONPATH")
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(paths + ([existing] if existing else [])),
        }

    @contextmanager
    def activate(self, folder: Path) -> Iterator[None]:
        """Within the block, this process imports and discovers the package's patterns."""
        self.write_dist_info(folder)
        added = [str(self.source), str(folder)]
        sys.path[:0] = added
        importlib.invalidate_caches()
        try:
            yield
        finally:
            for entry in added:
                if entry in sys.path:
                    sys.path.remove(entry)
            importlib.invalidate_caches()

    def patterns(self) -> dict[str, Pattern[Any]]:
        """The patterns its entry points declare (call inside :meth:`activate`)."""
        catalog = Catalog.installed()
        found = {}
        for pattern_id in self.entry_points:
            pattern = catalog.get(pattern_id)
            if pattern is None:
                problems = "; ".join(p.message for p in catalog.problems_by_id.get(pattern_id, []))
                raise PackageError(problems or f"entry point {pattern_id!r} did not load")
            found[pattern_id] = pattern
        return found


def installed_pattern(pattern_id: str) -> Pattern[Any]:
    """An installed pattern by id (``PackageError`` naming the installed ones otherwise)."""
    catalog = Catalog.installed()
    pattern = catalog.get(pattern_id)
    if pattern is None:
        problems = "; ".join(p.message for p in catalog.problems_by_id.get(pattern_id, []))
        raise PackageError(
            problems
            or f"no folder and no installed pattern named {pattern_id!r}; "
            f"installed: {', '.join(catalog.ids())}"
        )
    return pattern
