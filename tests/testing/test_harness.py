"""The harness: load_pattern fills requirements, compose_for_test overrides, the client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rainmaker.capabilities.database import Database
from rainmaker.capabilities.mailer import Email, Mailer
from rainmaker.kernel.errors import CompositionError
from rainmaker.testing.harness import compose_for_test, load_pattern
from tests.testing.patterns import echo


async def test_load_pattern_fills_requirements_with_embedded_defaults(tmp_path: Path) -> None:
    loaded = load_pattern(echo, {"word": "hey"}, root=tmp_path)
    uses = {i.pattern.id for i in loaded.app.instances.values()}
    assert uses == {"echo", "database-sqlite", "framework-fastapi"}  # router -> Http added
    async with loaded:
        assert loaded.api.require(Database).backend == "sqlite"
        assert loaded.module.settings.word == "hey"
        async with loaded.client() as http:
            response = await http.get("/echo/say")
    assert response.json() == {"word": "hey", "database": "sqlite"}
    assert (tmp_path / "harness.db").exists()


async def test_load_pattern_uses_the_real_provider_a_test_names(
    tmp_path: Path, postgres_url: str
) -> None:
    loaded = load_pattern(
        echo,
        root=tmp_path,
        http=False,
        providers={"Database": {"use": "database-postgres", "url": postgres_url}},
    )
    async with loaded:
        assert loaded.api.require(Database).backend == "postgresql"


async def test_load_pattern_reports_an_unknown_pattern(tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="no installed pattern 'nope'"):
        load_pattern("nope", root=tmp_path)


async def test_load_pattern_reports_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(CompositionError, match="word"):
        load_pattern(echo, {"word": 3, "extra": 1}, root=tmp_path)


class RecordingMailer:
    """A test double for Mailer: remembers what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[Email] = []

    async def send(self, email: Email) -> Any:
        self.sent.append(email)
        return None


async def test_compose_for_test_overrides_settings_and_replaces_a_service(
    tmp_path: Path,
) -> None:
    double = RecordingMailer()
    composed = compose_for_test(
        {
            "db": {"use": "database-sqlite", "path": "app.db"},
            "mail": {"use": "email-console", "default_sender": "a@example.com"},
            "echo": {"use": "echo", "word": "file"},
        },
        root=tmp_path,
        settings={"echo": {"word": "override"}},
        services={Mailer: double},
        extra_patterns=[echo],
    )
    assert composed.overridden == {"Mailer": ["mail"]}
    async with composed as app:
        assert app.services.require(Mailer) is double
        assert app.instances["echo"].settings.word == "override"
    # Undone: a new composition of the same table gets the real mailer and file settings.
    again = compose_for_test(
        {"mail": {"use": "email-console", "default_sender": "a@example.com"}}, root=tmp_path
    )
    async with again as app:
        assert app.services.require(Mailer) is not double


async def test_compose_for_test_provides_a_missing_capability_with_the_double(
    tmp_path: Path,
) -> None:
    double = RecordingMailer()
    composed = compose_for_test({}, root=tmp_path, services={Mailer: double})
    async with composed as app:
        assert app.services.require(Mailer) is double


async def test_compose_fixture_stops_what_the_test_composed(
    compose: Callable[..., Any], http_client: Callable[..., Any]
) -> None:
    composed = compose({"web": {"use": "framework-fastapi"}})
    await composed.app.start()
    async with http_client(composed) as http:
        assert (await http.get("/health/live")).status_code == 200
    # The fixture's teardown stops it; nothing to do here.


async def test_pattern_loader_fixture(pattern_loader: Callable[..., Any]) -> None:
    loaded = pattern_loader("cache-memory", {"max_entries": 5})
    await loaded.start()
    assert loaded.module.settings.max_entries == 5
    assert set(loaded.provided) == {"Cache"}
