"""Rainmaker: compose production Python backends from tested patterns.

The public API, for apps and pattern authors alike::

    import rainmaker
    app = rainmaker.load("rainmaker.toml", profile="production")   # an ASGI app

    from rainmaker import Pattern, Module, Settings, Capability, Health
"""

from rainmaker.kernel.application import Application
from rainmaker.kernel.capability import Capability, Provision, Requirement
from rainmaker.kernel.context import AppContext
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
from rainmaker.kernel.health import Health, Status
from rainmaker.kernel.loading import load
from rainmaker.kernel.module import Middleware, Module
from rainmaker.kernel.pattern import Pattern, Settings

__version__ = "0.1.0"

__all__ = [
    "AppContext",
    "Application",
    "Capability",
    "CompositionError",
    "ConflictError",
    "DependencyError",
    "ForbiddenError",
    "Health",
    "InvalidInputError",
    "Middleware",
    "Module",
    "NotFoundError",
    "Pattern",
    "PatternError",
    "Problem",
    "Provision",
    "RateLimitedError",
    "Requirement",
    "Settings",
    "SettingsError",
    "StartupError",
    "Status",
    "UnauthorizedError",
    "UnavailableError",
    "load",
]
