"""Fixtures: an app with the dashboard, composed from a catalog built in the test.

The ``dev-dashboard`` entry point may not be installed yet, so the catalog is the
installed one plus the dashboard and the sample patterns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

import rainmaker
from rainmaker.kernel.catalog import Catalog
from rainmaker.patterns.dashboard.pattern import dev_dashboard
from tests.patterns.dashboard.sample_patterns import SECRET, greeter, queue_probe

COMPOSITION = f"""
[app]
name = "dashdemo"

[patterns.web]
use = "framework-fastapi"

[patterns.db]
use = "database-sqlite"
path = "dash.db"

[patterns.greeter]
use = "greeter"
api_key = "{SECRET}"

[patterns.queue]
use = "queue-probe"

[patterns.dashboard]
use = "dev-dashboard"
"""

LoadApp = Callable[..., rainmaker.Application]


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    # The app configures structlog on pytest's captured stdout, closed after the test:
    # neither inherit another test's configuration nor leave this one behind.
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def catalog() -> Catalog:
    """Installed patterns, plus the dashboard and the sample patterns."""
    found = Catalog.installed()
    for pattern in (dev_dashboard, greeter, queue_probe):
        if found.get(pattern.id) is None:
            found.add(pattern, origin="test")
    return found


@pytest.fixture
def load_app(tmp_path: Path) -> LoadApp:
    """``load_app(dashboard="key = value", profile=None, extra="")``: the app, not started."""

    def load(
        dashboard: str = "", profile: str | None = None, extra: str = ""
    ) -> rainmaker.Application:
        (tmp_path / "rainmaker.toml").write_text(COMPOSITION + dashboard + "\n" + extra)
        return rainmaker.load(tmp_path, profile=profile, catalog=catalog(), configure_logs=False)

    return load
