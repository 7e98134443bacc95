"""Declaration of the ``fastapi-app`` pattern (light: importing it never imports FastAPI)."""

from __future__ import annotations

from rainmaker import Pattern
from rainmaker.patterns.fastapi_app.settings import FastAPIAppSettings

fastapi_app: Pattern[FastAPIAppSettings] = Pattern(
    id="fastapi-app",
    version="1.0.0",
    name="Existing FastAPI app",
    description=(
        "Serves an existing FastAPI app (or APIRouter) inside the composed app, under its "
        "mount prefix: it keeps its own lifespan, middleware and exception handlers and "
        "gains request ids, the access log, health routes, metrics and graceful shutdown; "
        "its routes can use Inject and CurrentUser as they are migrated."
    ),
    settings=FastAPIAppSettings,
    factory="rainmaker.patterns.fastapi_app.module:FastAPIAppModule",
    # The first example imports anywhere (`rainmaker pattern test` composes it in an empty
    # folder); the others are what an app's composition says.
    examples=[
        {"app": "rainmaker.patterns.fastapi_app.example:app"},
        {"app": "legacy.main:app"},
        {"app": "service.api:router"},
    ],
)
