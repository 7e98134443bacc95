"""The benchmark endpoint as a local pattern, composed with framework-fastapi."""

from fastapi import APIRouter

import rainmaker


class BenchSettings(rainmaker.Settings):
    """No settings."""


class BenchModule(rainmaker.Module[BenchSettings]):
    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/items/{item_id}")
        async def get_item(item_id: int) -> dict[str, object]:
            return {"id": item_id, "name": f"item {item_id}", "in_stock": True}

        return router


pattern = rainmaker.Pattern(
    id="bench-items", version="1.0.0", name="Bench items", settings=BenchSettings,
    factory=BenchModule,
)
