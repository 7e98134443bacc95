"""email-console: the outbox, the log line, and the app loaded from a rainmaker.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import structlog

import rainmaker
from rainmaker import CompositionError, StartupError, UnavailableError
from rainmaker.capabilities.mailer import Email, Mailer
from rainmaker.kernel.health import Status
from rainmaker.patterns.email.console import ConsoleMailer
from rainmaker.patterns.email.outbox import read_outbox
from tests.patterns.email.conftest import SENDER, mail_app


def console(**settings: object) -> dict[str, object]:
    return {"use": "email-console", "default_sender": SENDER, **settings}


async def test_loaded_from_a_composition_file(tmp_path: Path) -> None:
    (tmp_path / "mail-templates").mkdir()
    (tmp_path / "mail-templates" / "welcome.subject.txt").write_text("Welcome, {{ name }}!\n")
    (tmp_path / "mail-templates" / "welcome.html").write_text("<p>Hi {{ name }}</p>\n")
    (tmp_path / "rainmaker.toml").write_text(
        "[app]\nname = 'acme'\n\n"
        "[patterns.mail]\nuse = 'email-console'\n"
        "default_sender = 'Acme <no-reply@acme.example>'\n"
        "outbox = 'var/outbox'\ntemplates_dir = 'mail-templates'\n",
        encoding="utf-8",
    )
    app = rainmaker.load(tmp_path, environ={}, configure_logs=False)
    async with app.running():
        mailer = app.services.require(Mailer)
        await mailer.send_template("welcome", to="ann@example.com", context={"name": "<Ann>"})
        await mailer.send(Email(to="bob@example.com", subject="second", text="2"))
    first, second = read_outbox(tmp_path / "var" / "outbox")
    assert first.subject == "Welcome, <Ann>!"
    assert first.html == "<p>Hi &lt;Ann&gt;</p>\n"
    assert first.text is None
    assert first.sender == "no-reply@acme.example"
    assert second.subject == "second" and second.recipients == ("bob@example.com",)


async def test_outbox_files_are_complete_and_ordered(tmp_path: Path) -> None:
    app = mail_app(console(outbox="out"), tmp_path)
    async with app.running():
        mailer = app.services.require(Mailer)
        assert isinstance(mailer, ConsoleMailer)
        results = await mailer.send_many(
            [Email(to=f"u{i}@example.com", subject=f"n{i}", text="x") for i in range(20)]
        )
        assert all(r.ok for r in results)
        names = sorted(p.name for p in (tmp_path / "out").iterdir())
        assert all(name.endswith(".eml") for name in names)  # no partial files left behind
        assert [m.subject for m in mailer.outbox.messages()] == [f"n{i}" for i in range(20)]
        assert mailer.outbox.clear() == 20
        assert read_outbox(tmp_path / "out") == []
    assert read_outbox(tmp_path / "missing") == []


async def test_one_line_summary_is_logged(tmp_path: Path) -> None:
    app = mail_app(console(), tmp_path)
    async with app.running():
        with structlog.testing.capture_logs() as logs:
            await app.services.require(Mailer).send(
                Email(to="ann@example.com", bcc="b@example.com", subject="Hi", text="x")
            )
    (entry,) = [e for e in logs if e["event"] == "email.sent"]
    assert entry["to"] == "ann@example.com, b@example.com"
    assert entry["subject"] == "Hi"
    assert entry["file"].endswith(".eml")


async def test_outbox_removed_while_running(tmp_path: Path) -> None:
    app = mail_app(console(outbox="out"), tmp_path)
    async with app.running():
        assert (await app.health()).instances[0].status is Status.UP
        shutil.rmtree(tmp_path / "out")
        mailer = app.services.require(Mailer)
        with pytest.raises(UnavailableError, match="cannot write to the outbox"):
            await mailer.send(Email(to="a@example.com", subject="s", text="t"))
        report = (await app.health()).instances[0]
        assert report.status is Status.DOWN
        assert "is missing" in report.details["reason"]


async def test_missing_templates_dir_fails_the_start(tmp_path: Path) -> None:
    app = mail_app(console(templates_dir="nowhere"), tmp_path)
    with pytest.raises(StartupError, match=r"templates_dir .*nowhere is not a folder"):
        await app.start()


async def test_outbox_that_cannot_be_created_fails_the_start(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file, not a folder")
    app = mail_app(console(outbox="blocked/outbox"), tmp_path)
    with pytest.raises(StartupError, match="cannot create the outbox folder"):
        await app.start()


def test_bad_settings_are_reported_before_start(tmp_path: Path) -> None:
    with pytest.raises(CompositionError) as caught:
        rainmaker_app = mail_app(console(default_sender="no-reply@"), tmp_path)
        del rainmaker_app
    text = str(caught.value)
    assert "mail" in text and "default_sender" in text and "'no-reply@'" in text

    with pytest.raises(CompositionError, match="username and password go together"):
        mail_app(
            {
                "use": "email-smtp",
                "default_sender": SENDER,
                "host": "smtp.example.com",
                "username": "app",
            },
            tmp_path,
        )
