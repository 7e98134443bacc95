"""Until ``pyproject.toml`` registers the ``dev-dashboard`` entry point, add it to
``Catalog.installed()`` so the guides' code runs as it will for users once it ships.

Once the entry point is installed, :func:`install` changes nothing.
"""

from __future__ import annotations

from rainmaker.kernel.catalog import Catalog
from rainmaker.patterns.dashboard.pattern import dev_dashboard

_original = Catalog.installed.__func__  # type: ignore[attr-defined]


def _installed(cls: type[Catalog]) -> Catalog:
    catalog: Catalog = _original(cls)
    if catalog.get(dev_dashboard.id) is None:
        catalog.add(dev_dashboard, origin="rainmaker-patterns (dev-dashboard, not yet registered)")
    return catalog


def install() -> None:
    """Make ``Catalog.installed()`` include ``dev-dashboard``."""
    Catalog.installed = classmethod(_installed)  # type: ignore[assignment,method-assign]
