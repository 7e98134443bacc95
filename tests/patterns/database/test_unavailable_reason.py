"""An outage error carries its reason as an attribute, not only inside its message.

The start error ("cannot connect to PostgreSQL at host … port …: <reason>") is built from
that attribute, so it names the database once and never re-parses a message.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from rainmaker import StartupError, UnavailableError
from rainmaker.patterns.database.errors import DatabaseUnavailableError, as_unavailable
from rainmaker.testing.harness import build_app
from tests.patterns.database.conftest import pg_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_outage_carries_target_and_reason() -> None:
    cause = ConnectionRefusedError()
    error = as_unavailable(cause, target="postgresql://h:5432/app", instance="db")
    assert isinstance(error, DatabaseUnavailableError)
    assert isinstance(error, UnavailableError) and error.code == "unavailable"
    assert error.target == "postgresql://h:5432/app"
    assert error.reason.startswith("connection refused")
    assert error.message == f"database postgresql://h:5432/app is unavailable: {error.reason}"
    assert error.pattern_id == "db" and error.cause is cause


def test_what_is_not_an_outage_stays_as_it_was() -> None:
    assert as_unavailable(ValueError("no"), target="t", instance="db") is None


async def test_the_start_error_names_the_database_once_then_the_reason(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: the connection is refused
    app = build_app(
        {"db": {"use": "database-postgres", "url": pg_url("x", host="127.0.0.1", port=port)}},
        root=tmp_path,
    )
    with pytest.raises(StartupError) as caught:
        await app.start()
    message = str(caught.value)
    assert f"at host 127.0.0.1 port {port} (database x): connection refused" in message
    assert "is unavailable" not in message
