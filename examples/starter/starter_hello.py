"""An app-local pattern: one route, written with the public pattern API."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from rainmaker import Module, Pattern, Settings


class HelloSettings(Settings):
    greeting: str = Field("hello", description="The word the /hello route answers with.")


class HelloModule(Module[HelloSettings]):
    def router(self) -> Any:
        from fastapi import APIRouter

        router = APIRouter()

        @router.get("/hello")
        async def hello() -> dict[str, str]:
            return {"message": f"{self.settings.greeting} from starter"}

        return router


pattern = Pattern(
    id="hello",
    version="0.1.0",
    name="Hello",
    description="Answers GET /hello.",
    settings=HelloSettings,
    factory=HelloModule,
)
