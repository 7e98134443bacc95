"""The panels modules contribute (``Module.dashboard_panels()``), read for one snapshot.

The dashboard knows no pattern: the jobs patterns contribute their backlog and failed
jobs, the database patterns their migrations, a third party whatever it wants to show,
all through the same door. Each panel is read within the status timeout; one that fails,
times out or is malformed shows why instead of breaking the page, and everything it
returns passes the secret scrubber.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rainmaker import AppView, DashboardPanel, PanelTable
from rainmaker.patterns.dashboard.redaction import Scrubber


@dataclass(frozen=True)
class PanelView:
    """One contributed panel as the page shows it."""

    instance: str
    pattern: str
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "pattern": self.pattern,
            "title": self.title,
            "columns": self.columns,
            "rows": self.rows,
            "note": self.note,
            "problem": self.problem,
        }


async def read_panels(
    application: AppView, scrubber: Scrubber, limit: int, timeout: float
) -> list[PanelView]:
    """Every contributed panel, in start order of the instances that contribute them."""
    views: list[PanelView] = []
    for instance in application.instances.values():
        if instance.module is None:
            continue
        try:
            panels = list(instance.module.dashboard_panels())
        except Exception as exc:
            views.append(_broken(instance.name, instance.pattern.id, "panels", exc))
            continue
        for panel in panels:
            views.append(await _read(instance.name, instance.pattern.id, panel, scrubber,
                                     limit, timeout))
    return views


async def _read(
    instance: str, pattern: str, panel: Any, scrubber: Scrubber, limit: int, timeout: float
) -> PanelView:
    if not isinstance(panel, DashboardPanel):
        return PanelView(
            instance,
            pattern,
            title="(malformed panel)",
            problem=f"{instance} contributed a {type(panel).__name__}, not a "
            "rainmaker.DashboardPanel: return DashboardPanel(title, read) items",
        )
    try:
        table = await asyncio.wait_for(panel.read(limit), timeout)
        if not isinstance(table, PanelTable):
            raise TypeError(f"read() returned a {type(table).__name__}, not a PanelTable")
    except Exception as exc:
        return _broken(instance, pattern, panel.title, exc)
    return PanelView(
        instance,
        pattern,
        title=scrubber.text(panel.title),
        columns=[scrubber.text(str(column)) for column in table.columns],
        rows=[[scrubber.text(str(cell)) for cell in row] for row in list(table.rows)[:limit]],
        note=scrubber.text(table.note),
    )


def _broken(instance: str, pattern: str, title: str, exc: Exception) -> PanelView:
    reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
    return PanelView(instance, pattern, title, problem=f"could not be read: {reason}")
