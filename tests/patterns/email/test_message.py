"""Email validation: bad addresses and header injection are refused, naming the culprit."""

from __future__ import annotations

import pytest

from rainmaker import InvalidInputError, UnavailableError
from rainmaker.capabilities.mailer import (
    Attachment,
    Email,
    MessageRejectedError,
    RecipientsRefusedError,
    TemplateNotFoundError,
    is_retryable,
    parse_address,
)
from rainmaker.patterns.email.mime import build_envelope


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("ann", "user@example.com"),
        ("ann@", "user@example.com"),
        ("@example.com", "user@example.com"),
        ("ann@localhost", "not a valid domain"),
        ("ann@exa mple.com", "not a valid domain"),
        ("ann@-example.com", "not a valid domain"),
        ("ann@example.123", "not a valid domain"),
        ("a nn@example.com", "not a valid mailbox name"),
        ('"ann"@example.com', "not a valid mailbox name"),
        ("ann..lee@example.com", "not a valid mailbox name"),
        ("zoë@example.com", "not a valid mailbox name"),
        ("Ann <ann@example.com", "not a valid mailbox name"),
        ("x" * 65 + "@example.com", "not a valid mailbox name"),
    ],
)
def test_invalid_address_is_named(address: str, reason: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        Email(to=address, subject="s", text="t")
    assert repr(address) in caught.value.message
    assert reason in caught.value.message
    assert caught.value.status == 422


@pytest.mark.parametrize("field", ["to", "cc", "bcc", "reply_to", "sender"])
def test_each_address_field_is_checked_and_named(field: str) -> None:
    kwargs: dict[str, object] = {"to": "ok@example.com", "subject": "s", "text": "t"}
    kwargs[field] = "broken@"
    with pytest.raises(InvalidInputError, match=r"'broken@'"):
        Email(**kwargs)  # type: ignore[arg-type]


def test_one_bad_address_in_a_list_is_named() -> None:
    with pytest.raises(InvalidInputError, match=r"'bad@@example\.com'"):
        Email(to=["a@example.com", "bad@@example.com", "c@example.com"], subject="s", text="t")


@pytest.mark.parametrize(
    "address",
    [
        "ann@example.com\r\nBcc: victim@example.com",
        "Ann\n <ann@example.com>",
        "ann@example.com\rX-Evil: 1",
        "ann@example.com\x00",
    ],
)
def test_line_breaks_in_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidInputError, match="line break"):
        Email(to=address, subject="s", text="t")


@pytest.mark.parametrize("subject", ["Hi\r\nBcc: victim@example.com", "Hi\nthere", "Hi\u2028x"])
def test_line_breaks_in_subject_are_refused(subject: str) -> None:
    with pytest.raises(InvalidInputError, match="the subject must be one line"):
        Email(to="ann@example.com", subject=subject, text="t")


def test_header_injection_in_extra_headers_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="header X-Tag must be one line"):
        Email(to="a@example.com", subject="s", text="t", headers={"X-Tag": "a\r\nBcc: v@x.com"})
    with pytest.raises(InvalidInputError, match="header name 'X Tag'"):
        Email(to="a@example.com", subject="s", text="t", headers={"X Tag": "a"})
    with pytest.raises(InvalidInputError, match="'Bcc' is set by the mailer"):
        Email(to="a@example.com", subject="s", text="t", headers={"Bcc": "v@example.com"})


def test_message_needs_a_recipient_and_a_body() -> None:
    with pytest.raises(InvalidInputError, match="at least one recipient"):
        Email(to=(), subject="s", text="t")
    with pytest.raises(InvalidInputError, match="has no body"):
        Email(to="a@example.com", subject="s")
    # bcc alone is enough
    assert Email(to=(), bcc="a@example.com", subject="s", text="t").recipients == ("a@example.com",)


def test_attachment_rules() -> None:
    with pytest.raises(InvalidInputError, match="plain file name"):
        Attachment("../etc/passwd", "text/plain", b"x")
    with pytest.raises(InvalidInputError, match="line break"):
        Attachment("a\r\n.txt", "text/plain", b"x")
    with pytest.raises(InvalidInputError, match="'pdf' is not of the form type/subtype"):
        Attachment("a.pdf", "pdf", b"x")
    with pytest.raises(InvalidInputError, match="data must be bytes"):
        Attachment("a.txt", "text/plain", "text")  # type: ignore[arg-type]
    copied = Attachment("a.bin", "application/octet-stream", bytearray(b"\x00"))  # type: ignore[arg-type]
    assert copied.data == b"\x00" and type(copied.data) is bytes


def test_addresses_are_normalised() -> None:
    email = Email(
        to=['"Lee, Ann" <ann@example.com>', "bob@bücher.example"],
        cc="ANN@example.com",
        subject="s",
        text="t",
    )
    assert email.to == ('"Lee, Ann" <ann@example.com>', "bob@xn--bcher-kva.example")
    assert email.recipients == ("ann@example.com", "bob@xn--bcher-kva.example", "ANN@example.com")
    assert parse_address("Ann <ann@example.com>").display_name == "Ann"


def test_wire_form_has_no_bcc_and_is_seven_bit() -> None:
    envelope = build_envelope(
        Email(to="a@example.com", bcc="hidden@example.com", subject="Grüße", text="ü ✓"),
        "Acme <no-reply@acme.example>",
    )
    assert b"hidden@example.com" not in envelope.data
    assert envelope.recipients == ("a@example.com", "hidden@example.com")
    assert envelope.sender == "no-reply@acme.example"
    assert envelope.message_id.endswith("@acme.example>")
    assert max(envelope.data) < 128  # any server takes it, 8BITMIME or not
    assert b"\r\n" in envelope.data and b"\n" not in envelope.data.replace(b"\r\n", b"")


def test_retry_seam() -> None:
    assert is_retryable(UnavailableError("down"))
    assert is_retryable(RecipientsRefusedError({"a@example.com": "450 busy"}, temporary=True))
    assert not is_retryable(RecipientsRefusedError({"a@example.com": "550 no such user"}))
    assert is_retryable(MessageRejectedError("later", smtp_code=451))
    assert not is_retryable(MessageRejectedError("never", smtp_code=554))
    assert not is_retryable(InvalidInputError("bad"))
    assert not is_retryable(TemplateNotFoundError("missing"))
