"""The rainmaker pytest plugin's fixtures, for these tests.

Once the plugin is installed through its ``pytest11`` entry point pytest loads it by
itself; importing the fixtures here keeps these tests working before that (a conftest's
fixture simply shadows the plugin's one of the same name).
"""

from rainmaker.testing.plugin import (  # noqa: F401
    compose,
    http_client,
    pattern_loader,
    postgres_url,
    redis_url,
)
