"""Declaration of the ``framework-fastapi`` pattern (light: importing it never imports FastAPI)."""

from __future__ import annotations

from rainmaker import Pattern
from rainmaker.capabilities.http import Http
from rainmaker.patterns.http.settings import HttpSettings

framework_fastapi: Pattern[HttpSettings] = Pattern(
    id="framework-fastapi",
    version="1.0.0",
    name="FastAPI HTTP framework",
    description=(
        "Serves every pattern's routes from one FastAPI app: problem+json errors, request "
        "ids, access log, CORS, trusted hosts, security headers, a body size limit, health "
        "routes, OpenAPI and graceful shutdown."
    ),
    settings=HttpSettings,
    provides=[Http],
    factory="rainmaker.patterns.http.module:FastAPIModule",
    starts_last=True,  # routers' startup handlers run once their modules have started
    examples=[
        {},
        {
            "title": "Acme API",
            "trusted_hosts": ["api.acme.example"],
            "cors": {"allow_origins": ["https://app.acme.example"]},
            "security_headers": {"hsts_max_age": 31536000},
            "health": {"detail": "loopback"},
            "shutdown": {"delay": 10, "timeout": 30},
        },
    ],
)
