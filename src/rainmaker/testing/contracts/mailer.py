"""The ``Mailer`` contract suite: what every provider must do, run against each of them.

Subclass :class:`MailerContract` in a test module and define one fixture,
``mailer_under_test``, returning a :class:`MailerUnderTest`::

    class TestMyMailer(MailerContract):
        @pytest.fixture
        async def mailer_under_test(self, mailer_templates_dir):
            mailer = await start_my_mailer(
                default_sender=CONTRACT_SENDER, templates_dir=mailer_templates_dir
            )
            yield MailerUnderTest(mailer, delivered=my_read_back, refused_recipient=None)
            await mailer.close()

The fixture must build a **fresh** mailer per test whose default sender is
:data:`CONTRACT_SENDER` and whose app templates folder is the ``mailer_templates_dir``
fixture's path (tests write templates there before their first send). ``delivered`` is an
async callable returning what actually arrived, oldest first, as objects with ``sender``,
``recipients`` (the envelope) and ``message`` (a parsed ``email.message.EmailMessage``).
``refused_recipient``, when the backend can refuse one, is an address it refuses; the
refusal tests are skipped without one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import pytest

from rainmaker.capabilities.mailer import (
    Attachment,
    Email,
    MailSender,
    RecipientsRefusedError,
    TemplateNotFoundError,
    TemplateRenderError,
)
from rainmaker.kernel.errors import InvalidInputError

CONTRACT_SENDER = "Contract Sender <sender@contract.example>"
SENDER_ADDRESS = "sender@contract.example"


class DeliveredMessage(Protocol):
    """A message as the backend delivered it."""

    @property
    def sender(self) -> str: ...

    @property
    def recipients(self) -> tuple[str, ...]: ...

    @property
    def message(self) -> EmailMessage: ...


@dataclass(frozen=True)
class MailerUnderTest:
    """A started mailer and a way to read back what it delivered."""

    mailer: MailSender
    delivered: Callable[[], Awaitable[Sequence[DeliveredMessage]]]
    refused_recipient: str | None = None


def body(message: EmailMessage, subtype: str) -> str | None:
    """The decoded ``text/<subtype>`` body of ``message``, if it has one."""
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # lines travel as CRLF; compare them as \n


class MailerContract:
    """Tests every ``Mailer`` provider must pass (see the module docstring)."""

    @pytest.fixture
    def mailer_templates_dir(self, tmp_path: Path) -> Path:
        """The app templates folder the mailer under test must search first."""
        folder = tmp_path / "email-templates"
        folder.mkdir()
        return folder

    async def _only(self, under_test: MailerUnderTest) -> DeliveredMessage:
        delivered = await under_test.delivered()
        assert len(delivered) == 1, f"expected one delivered message, got {len(delivered)}"
        return delivered[0]

    # -- plain sends -----------------------------------------------------------------------

    async def test_text_message_from_default_sender(
        self, mailer_under_test: MailerUnderTest
    ) -> None:
        receipt = await mailer_under_test.mailer.send(
            Email(to="Ann <ann@example.com>", subject="Hello", text="Hi Ann")
        )
        got = await self._only(mailer_under_test)
        assert got.sender == SENDER_ADDRESS
        assert got.recipients == ("ann@example.com",)
        assert got.message["From"] == CONTRACT_SENDER
        assert got.message["To"] == "Ann <ann@example.com>"
        assert got.message["Subject"] == "Hello"
        assert body(got.message, "plain") == "Hi Ann\n"
        assert body(got.message, "html") is None
        assert got.message["Message-ID"] == receipt.message_id
        assert receipt.accepted == ("ann@example.com",)
        assert receipt.refused == {}
        assert mailer_under_test.mailer.default_sender == CONTRACT_SENDER

    async def test_text_and_html_are_alternatives(self, mailer_under_test: MailerUnderTest) -> None:
        await mailer_under_test.mailer.send(
            Email(to="ann@example.com", subject="Both", text="plain", html="<p>rich</p>")
        )
        got = (await self._only(mailer_under_test)).message
        assert got.get_content_type() == "multipart/alternative"
        assert body(got, "plain") == "plain\n"
        assert body(got, "html") == "<p>rich</p>\n"

    async def test_html_only(self, mailer_under_test: MailerUnderTest) -> None:
        await mailer_under_test.mailer.send(
            Email(to="ann@example.com", subject="Rich", html="<p>only</p>")
        )
        got = (await self._only(mailer_under_test)).message
        assert got.get_content_type() == "text/html"
        assert body(got, "html") == "<p>only</p>\n"

    async def test_cc_in_header_bcc_only_in_envelope(
        self, mailer_under_test: MailerUnderTest
    ) -> None:
        await mailer_under_test.mailer.send(
            Email(
                to=["ann@example.com", "bob@example.com"],
                cc="carol@example.com",
                bcc=["dave@example.com"],
                subject="Team",
                text="hi all",
            )
        )
        got = await self._only(mailer_under_test)
        assert set(got.recipients) == {
            "ann@example.com",
            "bob@example.com",
            "carol@example.com",
            "dave@example.com",
        }
        assert got.message["Cc"] == "carol@example.com"
        assert got.message["Bcc"] is None
        assert b"dave@example.com" not in got.message.as_bytes()

    async def test_explicit_sender_reply_to_and_headers(
        self, mailer_under_test: MailerUnderTest
    ) -> None:
        await mailer_under_test.mailer.send(
            Email(
                to="ann@example.com",
                sender="Billing <billing@contract.example>",
                reply_to="help@contract.example",
                headers={"X-Campaign": "spring", "List-Unsubscribe": "<https://u.example/1>"},
                subject="Invoice",
                text="attached",
            )
        )
        got = await self._only(mailer_under_test)
        assert got.sender == "billing@contract.example"
        assert got.message["From"] == "Billing <billing@contract.example>"
        assert got.message["Reply-To"] == "help@contract.example"
        assert got.message["X-Campaign"] == "spring"
        assert got.message["List-Unsubscribe"] == "<https://u.example/1>"

    async def test_unicode_subject_names_and_body(self, mailer_under_test: MailerUnderTest) -> None:
        await mailer_under_test.mailer.send(
            Email(
                to="Zoë Ångström <zoe@example.com>",
                subject="Grüße — ✓ 日本",
                text="Ça marche: ✓\n",
                html="<p>Ça marche: ✓</p>",
            )
        )
        got = (await self._only(mailer_under_test)).message
        assert got["Subject"] == "Grüße — ✓ 日本"
        assert got["To"].addresses[0].display_name == "Zoë Ångström"
        assert body(got, "plain") == "Ça marche: ✓\n"
        assert body(got, "html") == "<p>Ça marche: ✓</p>\n"

    async def test_attachments_round_trip(self, mailer_under_test: MailerUnderTest) -> None:
        binary = bytes(range(256)) * 4
        await mailer_under_test.mailer.send(
            Email(
                to="ann@example.com",
                subject="Files",
                text="two files",
                attachments=[
                    Attachment("report.pdf", "application/pdf", binary),
                    Attachment("notes.txt", "text/plain", "naïve\n".encode()),
                ],
            )
        )
        got = (await self._only(mailer_under_test)).message
        files = {part.get_filename(): part for part in got.iter_attachments()}
        assert set(files) == {"report.pdf", "notes.txt"}
        assert files["report.pdf"].get_content_type() == "application/pdf"
        assert files["report.pdf"].get_payload(decode=True) == binary
        assert files["notes.txt"].get_payload(decode=True) == "naïve\n".encode()
        assert body(got, "plain") == "two files\n"

    async def test_message_ids_are_unique(self, mailer_under_test: MailerUnderTest) -> None:
        first = await mailer_under_test.mailer.send(
            Email(to="a@example.com", subject="1", text="1")
        )
        second = await mailer_under_test.mailer.send(
            Email(to="a@example.com", subject="2", text="2")
        )
        assert first.message_id != second.message_id
        delivered = await mailer_under_test.delivered()
        assert [d.message["Message-ID"] for d in delivered] == [
            first.message_id,
            second.message_id,
        ]

    # -- batches ---------------------------------------------------------------------------

    async def test_send_many_reports_each_message(self, mailer_under_test: MailerUnderTest) -> None:
        emails = [Email(to=f"user{i}@example.com", subject=f"n{i}", text=str(i)) for i in range(5)]
        results = await mailer_under_test.mailer.send_many(emails)
        assert [r.email for r in results] == emails
        assert all(r.ok and r.receipt is not None for r in results)
        delivered = await mailer_under_test.delivered()
        assert sorted(d.message["Subject"] for d in delivered) == [f"n{i}" for i in range(5)]
        assert await mailer_under_test.mailer.send_many([]) == []

    async def test_send_many_keeps_the_others_when_one_is_refused(
        self, mailer_under_test: MailerUnderTest
    ) -> None:
        refused = mailer_under_test.refused_recipient
        if refused is None:
            pytest.skip("this backend refuses no recipient")
        emails = [
            Email(to="first@example.com", subject="first", text="1"),
            Email(to=refused, subject="refused", text="2"),
            Email(to="third@example.com", subject="third", text="3"),
        ]
        results = await mailer_under_test.mailer.send_many(emails)
        assert [r.ok for r in results] == [True, False, True]
        assert isinstance(results[1].error, RecipientsRefusedError)
        assert refused in str(results[1].error)
        delivered = await mailer_under_test.delivered()
        assert [d.message["Subject"] for d in delivered] == ["first", "third"]

    async def test_refused_recipient_is_named(self, mailer_under_test: MailerUnderTest) -> None:
        refused = mailer_under_test.refused_recipient
        if refused is None:
            pytest.skip("this backend refuses no recipient")
        with pytest.raises(RecipientsRefusedError) as caught:
            await mailer_under_test.mailer.send(Email(to=refused, subject="x", text="x"))
        assert refused in caught.value.refused
        assert refused in str(caught.value)
        # Some refused, some accepted: the message goes out and the receipt says who not.
        receipt = await mailer_under_test.mailer.send(
            Email(to=["ok@example.com", refused], subject="partly", text="x")
        )
        assert receipt.accepted == ("ok@example.com",)
        assert list(receipt.refused) == [refused]

    # -- templates -------------------------------------------------------------------------

    async def test_package_template_renders_and_escapes_html(
        self, mailer_under_test: MailerUnderTest
    ) -> None:
        context = {
            "title": "Welcome <Ann>",
            "body": "<script>alert(1)</script> & more",
            "action_url": "https://acme.example/start?a=1&b=2",
            "action_label": "Get started",
        }
        await mailer_under_test.mailer.send_template(
            "notice", to="ann@example.com", context=context
        )
        got = (await self._only(mailer_under_test)).message
        assert got["Subject"] == "Welcome <Ann>"  # a subject is text, never escaped
        text = body(got, "plain")
        html = body(got, "html")
        assert text is not None and html is not None
        assert "<script>alert(1)</script> & more" in text
        assert "<script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
        assert 'href="https://acme.example/start?a=1&amp;b=2"' in html

    async def test_app_template_overrides_one_file(
        self, mailer_under_test: MailerUnderTest, mailer_templates_dir: Path
    ) -> None:
        (mailer_templates_dir / "notice.html").write_text(
            "<div class=brand>{{ title }}: {{ body }}</div>", encoding="utf-8"
        )
        await mailer_under_test.mailer.send_template(
            "notice", to="ann@example.com", context={"title": "T", "body": "B & C"}
        )
        got = (await self._only(mailer_under_test)).message
        assert body(got, "html") == "<div class=brand>T: B &amp; C</div>\n"
        text = body(got, "plain")
        assert text is not None and text.startswith("T\n\nB & C")  # still the package's

    async def test_app_only_template_and_render(
        self, mailer_under_test: MailerUnderTest, mailer_templates_dir: Path
    ) -> None:
        (mailer_templates_dir / "receipt.subject.txt").write_text("Receipt {{ n }}\n")
        (mailer_templates_dir / "receipt.txt").write_text("Total: {{ total }}\n")
        rendered = mailer_under_test.mailer.render("receipt", {"n": 7, "total": "9.50"})
        assert (rendered.subject, rendered.text, rendered.html) == (
            "Receipt 7",
            "Total: 9.50\n",
            None,
        )
        await mailer_under_test.mailer.send_template(
            "receipt", to="ann@example.com", bcc="audit@example.com", context={"n": 8, "total": 1}
        )
        got = await self._only(mailer_under_test)
        assert got.message["Subject"] == "Receipt 8"
        assert "audit@example.com" in got.recipients

    async def test_missing_template_is_named(self, mailer_under_test: MailerUnderTest) -> None:
        with pytest.raises(TemplateNotFoundError, match="no-such-template"):
            await mailer_under_test.mailer.send_template(
                "no-such-template", to="ann@example.com", context={}
            )
        with pytest.raises(TemplateNotFoundError, match="no_such_package_xyz"):
            mailer_under_test.mailer.render("notice", {}, package="no_such_package_xyz")
        assert await mailer_under_test.delivered() == []

    async def test_undefined_variable_is_named(self, mailer_under_test: MailerUnderTest) -> None:
        with pytest.raises(TemplateRenderError, match="body"):
            await mailer_under_test.mailer.send_template(
                "notice", to="ann@example.com", context={"title": "no body given"}
            )
        assert await mailer_under_test.delivered() == []

    async def test_header_injection_through_template_is_refused(
        self, mailer_under_test: MailerUnderTest
    ) -> None:
        with pytest.raises(InvalidInputError, match="line break"):
            await mailer_under_test.mailer.send_template(
                "notice",
                to="ann@example.com",
                context={"title": "Hi\r\nBcc: victim@example.com", "body": "x"},
            )
        with pytest.raises(InvalidInputError, match=r"victim@example\.com"):
            await mailer_under_test.mailer.send_template(
                "notice",
                to="ann@example.com\r\nBcc: victim@example.com",
                context={"title": "Hi", "body": "x"},
            )
        assert await mailer_under_test.delivered() == []
