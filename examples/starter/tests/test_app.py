"""The app starts with embedded defaults, is ready, and answers its own route."""

import asyncio
from pathlib import Path

import httpx

import rainmaker

APP = Path(__file__).resolve().parent.parent


def test_app_starts_and_serves() -> None:
    async def scenario() -> tuple[int, int]:
        app = rainmaker.load(APP)
        async with app.running():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                ready = await client.get("/health/ready")
                hello = await client.get("/hello")
        return ready.status_code, hello.status_code

    assert asyncio.run(scenario()) == (200, 200)
