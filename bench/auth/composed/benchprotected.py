"""The protected benchmark endpoint as a local pattern, guarded by auth-jwt's identity guard."""

from typing import Annotated

from fastapi import APIRouter, Depends

import rainmaker
from rainmaker.capabilities.auth import Auth, Identity, auth_guards


class BenchSettings(rainmaker.Settings):
    """No settings."""


class BenchModule(rainmaker.Module[BenchSettings]):
    def router(self) -> APIRouter:
        guards = auth_guards(self.ctx.services)
        router = APIRouter()

        @router.get("/protected")
        async def protected(
            identity: Annotated[Identity, Depends(guards.identity)],
        ) -> dict[str, str]:
            return {"user_id": identity.user_id}

        return router


pattern = rainmaker.Pattern(
    id="bench-protected",
    version="1.0.0",
    name="Bench protected endpoint",
    settings=BenchSettings,
    factory=BenchModule,
    requires=[Auth],
)
