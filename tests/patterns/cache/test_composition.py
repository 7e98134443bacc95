"""The cache as users compose it: rainmaker.toml, a pattern that requires Cache, and a
profile that switches cache-memory to cache-redis with one line."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import rainmaker
from rainmaker.capabilities.cache import Cache
from tests.patterns.cache.conftest import REDIS_URL

# A pattern of the app itself; ctx.cache is namespaced by its instance name.
CONSUMER_SOURCE = """
from rainmaker import Module, Pattern, Settings
from rainmaker.capabilities.cache import Cache


class GreeterSettings(Settings):
    greeting: str


class GreeterModule(Module[GreeterSettings]):
    async def start(self) -> None:
        cache = self.ctx.cache
        assert cache is not None and cache.namespace == self.ctx.instance
        await cache.set("greeting", self.settings.greeting)
        await cache.incr("starts")


pattern = Pattern(
    id="greeter", version="1.0.0", name="Greeter", settings=GreeterSettings,
    factory=GreeterModule, requires=[Cache], examples=[{"greeting": "hi"}],
)
"""


def write_app(root: Path, key_prefix: str) -> tuple[Path, str]:
    module = f"greeter_{uuid.uuid4().hex[:8]}"  # unique: sys.modules outlives one test
    (root / f"{module}.py").write_text(CONSUMER_SOURCE)
    toml = root / "rainmaker.toml"
    toml.write_text(
        f"""
[app]
name = "composed"
local_patterns = ["{module}:pattern"]

[patterns.cache]
use = "cache-memory"
key_prefix = "{key_prefix}"

[patterns.english]
use = "greeter"
greeting = "hello"

[patterns.french]
use = "greeter"
greeting = "bonjour"

[profiles.production.patterns.cache]
use = "cache-redis"
url = "${{REDIS_URL}}"
"""
    )
    return toml, module


@pytest.fixture(params=["development", "production"])
def profile(request: pytest.FixtureRequest) -> str:
    """development composes cache-memory; production switches to cache-redis."""
    if request.param == "production":
        request.getfixturevalue("redis_server")
        request.getfixturevalue("redis_cleanup")
    name: str = request.param
    return name


async def test_patterns_share_a_cache_without_colliding(
    tmp_path: Path, key_prefix: str, profile: str
) -> None:
    toml, _ = write_app(tmp_path, key_prefix)
    app = rainmaker.load(
        toml, profile=profile, environ={"REDIS_URL": REDIS_URL}, configure_logs=False
    )
    expected = "cache-redis" if profile == "production" else "cache-memory"
    assert app.instances["cache"].pattern.id == expected
    async with app.running():
        cache = app.services.require(Cache)
        english, french = cache.namespaced("english"), cache.namespaced("french")
        assert await english.get("greeting") == "hello"
        assert await french.get("greeting") == "bonjour"
        assert await english.get("starts") == 1 and await french.get("starts") == 1
        assert await cache.get("greeting") is None
        report = await app.health()
        assert report.ready and report.status is rainmaker.Status.UP
        await english.clear()
        await french.clear()
