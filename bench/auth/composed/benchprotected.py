"""The protected benchmark endpoints as a local pattern.

- ``GET /protected``: auth-jwt's identity guard (compared with the hand-written app);
- ``GET /closure`` and ``GET /typed``: the same route twice, the current user plus the
  database, written the two ways a pattern can: guards and a service looked up in a
  closure over the module inside ``router()``, and a module-level handler taking
  ``CurrentUser`` and ``Inject(Database)`` (``rainmaker.http``).
"""

from typing import Annotated

from fastapi import APIRouter, Depends

import rainmaker
from rainmaker.capabilities import Database, SqlDatabase
from rainmaker.capabilities.auth import Auth, Identity, User
from rainmaker.http import CurrentUser, Inject, auth_guards

typed_router = APIRouter()


@typed_router.get("/typed")
async def typed(user: CurrentUser, db: Annotated[SqlDatabase, Inject(Database)]) -> dict[str, str]:
    return {"user_id": user.id, "database": db.instance}


class BenchSettings(rainmaker.Settings):
    """No settings."""


class BenchModule(rainmaker.Module[BenchSettings]):
    def router(self) -> APIRouter:
        guards = auth_guards(self.ctx.services)
        services = self.ctx.services
        router = APIRouter()

        @router.get("/protected")
        async def protected(
            identity: Annotated[Identity, Depends(guards.identity)],
        ) -> dict[str, str]:
            return {"user_id": identity.user_id}

        @router.get("/closure")
        async def closure(
            user: Annotated[User, Depends(guards.current_user)],
        ) -> dict[str, str]:
            db = services.require(Database)
            return {"user_id": user.id, "database": db.instance}

        router.include_router(typed_router)
        return router


pattern = rainmaker.Pattern(
    id="bench-protected",
    version="1.0.0",
    name="Bench protected endpoint",
    settings=BenchSettings,
    factory=BenchModule,
    requires=[Auth, Database],
)
