"""Settings of the ``fastapi-app`` pattern."""

from __future__ import annotations

from pydantic import Field

from rainmaker import Settings

# module.path:attribute(.attribute) — what uvicorn accepts as an app reference.
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
APP_REFERENCE = rf"^{_DOTTED}:{_DOTTED}$"


class FastAPIAppSettings(Settings):
    """Which existing app to serve; where it is mounted is the instance's ``mount``."""

    app: str = Field(
        pattern=APP_REFERENCE,
        description="The FastAPI app or APIRouter to serve, as 'module:attribute', the "
        "module importable from the app folder (as uvicorn names an app).",
        examples=["legacy.main:app", "service.api:router"],
    )
