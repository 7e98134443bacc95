"""Rainmaker: compose production Python backends from tested patterns.

The public API, for apps and pattern authors alike::

    import rainmaker
    app = rainmaker.load("rainmaker.toml", profile="production")   # an ASGI app

    from rainmaker import Pattern, Module, Settings, Capability, Health

Names are imported on first use (PEP 562), so ``import rainmaker`` — and the pytest plugin,
which every pytest run in an environment with rainmaker loads — stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rainmaker.kernel.app_view import AppView
    from rainmaker.kernel.application import Application
    from rainmaker.kernel.capability import Capability, Provision, Requirement
    from rainmaker.kernel.clock import Seconds, utcnow
    from rainmaker.kernel.context import AppContext
    from rainmaker.kernel.contributions import (
        WORKER_ROLE,
        DashboardPanel,
        DocsSection,
        MigrationRunner,
        MigrationState,
        PanelTable,
        ProcessRole,
        RoleOptions,
    )
    from rainmaker.kernel.display import display as display_setting
    from rainmaker.kernel.errors import (
        CompositionError,
        ConflictError,
        DependencyError,
        ForbiddenError,
        InvalidInputError,
        NotFoundError,
        PatternError,
        Problem,
        RateLimitedError,
        SettingsError,
        StartupError,
        UnauthorizedError,
        UnavailableError,
    )
    from rainmaker.kernel.graph_svg import dependency_svg
    from rainmaker.kernel.graph_svg import graph_of as dependency_graph
    from rainmaker.kernel.health import Health, HealthReport, InstanceHealth, Status
    from rainmaker.kernel.loading import load
    from rainmaker.kernel.logging import ResolvedLogger
    from rainmaker.kernel.logging import add_processor as add_log_processor
    from rainmaker.kernel.module import Middleware, Module
    from rainmaker.kernel.ordering import OrderingCycleError, topological_order
    from rainmaker.kernel.pattern import Pattern, Settings
    from rainmaker.kernel.profile_owners import ProfileOwners
    from rainmaker.kernel.secrets import MASK as SECRET_MASK
    from rainmaker.kernel.secrets import redact_url, secret_values

__version__ = "0.1.0"

__all__ = [
    "SECRET_MASK",
    "WORKER_ROLE",
    "AppContext",
    "AppView",
    "Application",
    "Capability",
    "CompositionError",
    "ConflictError",
    "DashboardPanel",
    "DependencyError",
    "DocsSection",
    "ForbiddenError",
    "Health",
    "HealthReport",
    "InstanceHealth",
    "InvalidInputError",
    "Middleware",
    "MigrationRunner",
    "MigrationState",
    "Module",
    "NotFoundError",
    "OrderingCycleError",
    "PanelTable",
    "Pattern",
    "PatternError",
    "Problem",
    "ProcessRole",
    "ProfileOwners",
    "Provision",
    "RateLimitedError",
    "Requirement",
    "ResolvedLogger",
    "RoleOptions",
    "Seconds",
    "Settings",
    "SettingsError",
    "StartupError",
    "Status",
    "UnauthorizedError",
    "UnavailableError",
    "add_log_processor",
    "dependency_graph",
    "dependency_svg",
    "display_setting",
    "load",
    "redact_url",
    "secret_values",
    "topological_order",
    "utcnow",
]

# Where each public name lives (``module`` or ``module:attribute`` when the name differs);
# ``__getattr__`` imports it on first access.
_EXPORTS: dict[str, str] = {
    "Application": "rainmaker.kernel.application",
    "Capability": "rainmaker.kernel.capability",
    "Provision": "rainmaker.kernel.capability",
    "Requirement": "rainmaker.kernel.capability",
    "Seconds": "rainmaker.kernel.clock",
    "utcnow": "rainmaker.kernel.clock",
    "AppContext": "rainmaker.kernel.context",
    "AppView": "rainmaker.kernel.app_view",
    "WORKER_ROLE": "rainmaker.kernel.contributions",
    "DashboardPanel": "rainmaker.kernel.contributions",
    "DocsSection": "rainmaker.kernel.contributions",
    "PanelTable": "rainmaker.kernel.contributions",
    "ProfileOwners": "rainmaker.kernel.profile_owners",
    "MigrationRunner": "rainmaker.kernel.contributions",
    "MigrationState": "rainmaker.kernel.contributions",
    "ProcessRole": "rainmaker.kernel.contributions",
    "RoleOptions": "rainmaker.kernel.contributions",
    "CompositionError": "rainmaker.kernel.errors",
    "ConflictError": "rainmaker.kernel.errors",
    "DependencyError": "rainmaker.kernel.errors",
    "ForbiddenError": "rainmaker.kernel.errors",
    "InvalidInputError": "rainmaker.kernel.errors",
    "NotFoundError": "rainmaker.kernel.errors",
    "PatternError": "rainmaker.kernel.errors",
    "Problem": "rainmaker.kernel.errors",
    "RateLimitedError": "rainmaker.kernel.errors",
    "SettingsError": "rainmaker.kernel.errors",
    "StartupError": "rainmaker.kernel.errors",
    "UnauthorizedError": "rainmaker.kernel.errors",
    "UnavailableError": "rainmaker.kernel.errors",
    "Health": "rainmaker.kernel.health",
    "dependency_graph": "rainmaker.kernel.graph_svg:graph_of",
    "dependency_svg": "rainmaker.kernel.graph_svg",
    "HealthReport": "rainmaker.kernel.health",
    "InstanceHealth": "rainmaker.kernel.health",
    "Status": "rainmaker.kernel.health",
    "load": "rainmaker.kernel.loading",
    "ResolvedLogger": "rainmaker.kernel.logging",
    "add_log_processor": "rainmaker.kernel.logging:add_processor",
    "SECRET_MASK": "rainmaker.kernel.secrets:MASK",
    "display_setting": "rainmaker.kernel.display:display",
    "redact_url": "rainmaker.kernel.secrets",
    "secret_values": "rainmaker.kernel.secrets",
    "Middleware": "rainmaker.kernel.module",
    "Module": "rainmaker.kernel.module",
    "OrderingCycleError": "rainmaker.kernel.ordering",
    "topological_order": "rainmaker.kernel.ordering",
    "Pattern": "rainmaker.kernel.pattern",
    "Settings": "rainmaker.kernel.pattern",
}


def __getattr__(name: str) -> Any:
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module 'rainmaker' has no attribute {name!r}")
    module, _, attribute = where.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
