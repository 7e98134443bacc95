"""Declaration of the ``dev-dashboard`` pattern (light: importing it never imports FastAPI)."""

from __future__ import annotations

from rainmaker import Pattern
from rainmaker.patterns.dashboard.settings import DashboardSettings

MOUNT = "/_rainmaker"

dev_dashboard: Pattern[DashboardSettings] = Pattern(
    id="dev-dashboard",
    version="1.0.0",
    name="Developer dashboard",
    description="A page at /_rainmaker showing the running app: the pattern graph, each "
    "pattern's health, effective settings (secrets redacted), routes, migrations status and, "
    "with a jobs pattern, queue depths and recent failed jobs. Served in development "
    "profiles only unless enabled, and to loopback clients only by default.",
    settings=DashboardSettings,
    factory="rainmaker.patterns.dashboard.module:DashboardModule",
    mount=MOUNT,
    examples=[
        {},
        {"profiles": ["development", "staging"], "loopback_only": False, "refresh_interval": 2},
    ],
)
