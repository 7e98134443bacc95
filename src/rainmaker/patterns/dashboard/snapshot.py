"""Everything the dashboard shows, collected from the running app in one pass.

The data is the CLI's: health from :meth:`AppView.health` (as ``/health``), settings
from the rows of ``rainmaker config show`` shown through the kernel's redaction, routes
from the HTTP module's route table (as ``rainmaker routes``), the panels modules contribute
(migrations, jobs…), the graph from the resolved bindings (as ``rainmaker graph``). Every string
that leaves comes through the :class:`~rainmaker.patterns.dashboard.redaction.Scrubber`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rainmaker import AppView, HealthReport, dependency_graph, dependency_svg
from rainmaker import display_setting as display
from rainmaker.patterns.dashboard.panels import PanelView, read_panels
from rainmaker.patterns.dashboard.redaction import Scrubber
from rainmaker.patterns.dashboard.settings import DashboardSettings


@dataclass(frozen=True)
class InstanceRow:
    """One instance with its health."""

    name: str
    pattern: str
    version: str
    provides: str
    uses: str
    status: str
    latency_ms: float
    details: dict[str, Any]

    @property
    def details_text(self) -> str:
        return json.dumps(self.details, sort_keys=True, default=str) if self.details else ""


@dataclass(frozen=True)
class Snapshot:
    """The dashboard's view of the app at one moment."""

    app: str
    profile: str
    state: str
    status: str
    ready: bool
    instances: list[InstanceRow]
    graph_svg: str
    settings: list[dict[str, str]]
    routes: list[dict[str, Any]]
    routes_problem: str
    panels: list[PanelView]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``/_rainmaker/api/state``), without the SVG."""
        return {
            "app": self.app,
            "profile": self.profile,
            "state": self.state,
            "status": self.status,
            "ready": self.ready,
            "instances": [
                {
                    "name": row.name,
                    "pattern": row.pattern,
                    "version": row.version,
                    "status": row.status,
                    "latency_ms": row.latency_ms,
                    "details": row.details,
                }
                for row in self.instances
            ],
            "settings": self.settings,
            "routes": self.routes,
            "routes_problem": self.routes_problem,
            "panels": [panel.as_dict() for panel in self.panels],
        }


def health_dict(report: HealthReport, scrubber: Scrubber) -> dict[str, Any]:
    """The health report as ``/health`` gives it, scrubbed (the page's refreshes read it)."""
    data: dict[str, Any] = scrubber.data(report.as_dict())
    return data


async def collect(application: AppView, settings: DashboardSettings) -> Snapshot:
    """Read every panel of the dashboard from ``application``."""
    scrubber = Scrubber.for_app(application)
    report = await application.health()
    by_name = {item.instance: item for item in report.instances}
    rows = []
    for instance in application.instances.values():
        health = by_name.get(instance.name)
        rows.append(
            InstanceRow(
                name=instance.name,
                pattern=instance.pattern.id,
                version=instance.pattern.version,
                provides=", ".join(str(p) for p in instance.pattern.provisions),
                uses=", ".join(f"{c} → {n}" for c, n in sorted(instance.bindings.items())),
                status=health.status.value if health else "down",
                latency_ms=round(health.latency_ms, 2) if health else 0.0,
                details=scrubber.data(dict(health.details)) if health else {},
            )
        )
    nodes, edges = dependency_graph(application)
    routes, routes_problem = _routes(application)
    return Snapshot(
        app=application.name,
        profile=application.profile,
        state=report.state,
        status=report.status.value,
        ready=report.ready,
        instances=rows,
        graph_svg=dependency_svg(
            nodes,
            edges,
            classes={row.name: f"status-{row.status}" for row in rows},
            title=f"{application.name}: dependency graph",
        ),
        settings=[
            {
                "instance": instance.name,
                "key": key,
                "value": scrubber.text(display(type(instance.settings), key, value)),
                "source": source,
            }
            for instance in application.instances.values()
            for key, value, source in instance.settings_with_sources()
        ],
        routes=[scrubber.data(route) for route in routes],
        routes_problem=routes_problem,
        panels=await read_panels(
            application, scrubber, settings.rows_per_panel, settings.status_timeout
        ),
    )


def _routes(application: AppView) -> tuple[list[dict[str, Any]], str]:
    try:
        listing = getattr(application.http_module(), "routes", None)
    except Exception as exc:
        return [], f"{type(exc).__name__}: {exc}"
    if listing is None:
        return [], "the HTTP framework of this app cannot list its routes"
    return [row.as_dict() for row in listing()], ""
