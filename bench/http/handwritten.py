"""The baseline: a hand-written FastAPI app serving the benchmark endpoint."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/items/{item_id}")
async def get_item(item_id: int) -> dict[str, object]:
    return {"id": item_id, "name": f"item {item_id}", "in_stock": True}
