"""The console mailer's outbox: one ``.eml`` file per message, written atomically.

Each file is the exact message bytes, preceded by two trace headers a mail server adds on
delivery, ``Return-Path`` (the envelope sender) and ``X-Envelope-To`` (every envelope
recipient, Bcc included, since no other header shows those). Files are named so that
sorting them gives send order. A file is written under a temporary name and renamed into
place, so a reader never sees half a message. :func:`read_outbox` (and
:meth:`Outbox.messages`) parse them back for development and tests.
"""

from __future__ import annotations

import email.policy
import itertools
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from rainmaker.patterns.email.mime import Envelope

SUFFIX = ".eml"
_sequence = itertools.count()


@dataclass(frozen=True)
class OutboxMessage:
    """One message read back from the outbox, with its envelope."""

    path: Path
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        """The decoded ``Subject`` header."""
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str | None:
        """The plain-text body, decoded, if the message has one."""
        return _body(self.message, "plain")

    @property
    def html(self) -> str | None:
        """The HTML body, decoded, if the message has one."""
        return _body(self.message, "html")


class Outbox:
    """A folder of ``.eml`` files: write one per message, read them back, clear them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def ensure(self) -> None:
        """Create the folder (and its parents) if needed."""
        self.path.mkdir(parents=True, exist_ok=True)

    def write(self, envelope: Envelope) -> Path:
        """Write ``envelope`` as a new file atomically and return its path (blocking I/O)."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{next(_sequence):06d}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        trace = (
            f"Return-Path: <{envelope.sender}>\r\n"
            f"X-Envelope-To: {', '.join(envelope.recipients)}\r\n"
        ).encode("ascii")
        final = self.path / name
        partial = self.path / f".{name}.part"
        with open(partial, "wb") as handle:
            handle.write(trace + envelope.data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, final)
        return final

    def messages(self) -> list[OutboxMessage]:
        """Every message in the outbox, oldest first."""
        return read_outbox(self.path)

    def clear(self) -> int:
        """Delete every message; returns how many were deleted."""
        count = 0
        for path in self.path.glob(f"*{SUFFIX}"):
            path.unlink(missing_ok=True)
            count += 1
        return count


def read_outbox(folder: str | os.PathLike[str]) -> list[OutboxMessage]:
    """Parse every ``.eml`` file of an outbox folder, oldest first (empty if none)."""
    root = Path(folder)
    if not root.is_dir():
        return []
    parser = BytesParser(policy=email.policy.default)
    result = []
    for path in sorted(root.glob(f"*{SUFFIX}")):
        message = parser.parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
        sender = str(message.get("Return-Path", "")).strip().strip("<>")
        recipients = tuple(
            item.strip() for item in str(message.get("X-Envelope-To", "")).split(",") if item
        )
        # The trace headers describe the envelope; ``message`` is what was sent.
        del message["Return-Path"]
        del message["X-Envelope-To"]
        result.append(OutboxMessage(path, sender, recipients, message))
    return result


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    # Lines travel (and are stored) as CRLF; callers compare text with "\n".
    return content.replace("\r\n", "\n") if isinstance(content, str) else None
