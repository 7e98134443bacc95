"""An app-local pattern: a module-level route that asks for what it needs by type."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from rainmaker import Module, Pattern, Settings
from rainmaker.capabilities import Database, SqlDatabase
from rainmaker.http import Inject, PatternSettings


class HelloSettings(Settings):
    greeting: str = Field("hello", description="The word the /hello route answers with.")


router = APIRouter()


@router.get("/hello")
async def hello(
    settings: Annotated[HelloSettings, PatternSettings(HelloSettings)],
    db: Annotated[SqlDatabase, Inject(Database)],
) -> dict[str, str]:
    return {"message": f"{settings.greeting} from starter", "database": db.backend}


class HelloModule(Module[HelloSettings]):
    def router(self) -> APIRouter:
        return router


pattern = Pattern(
    id="hello",
    version="0.1.0",
    name="Hello",
    description="Answers GET /hello.",
    settings=HelloSettings,
    factory=HelloModule,
    requires=[Database],
)
