"""The ``Mailer`` capability: send email with text and HTML parts, templates and attachments.

Apps build an :class:`Email` (validated on construction: every address is checked and no
header may smuggle a line break) and hand it to the :class:`MailSender` registered under
:data:`Mailer`. ``email-console`` (no server: a log line plus a ``.eml`` outbox) and
``email-smtp`` (a real SMTP server) both implement it and pass the same contract suite,
:mod:`rainmaker.testing.contracts.mailer`.

Retry seam: a send raises (or a batch result carries) a :class:`~rainmaker.PatternError`;
:func:`is_retryable` says whether trying the same message again later can succeed, so a
job that wraps ``send`` (the Jobs pattern) re-raises to retry exactly those.

Importing this module imports only the standard library and the kernel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from typing import Any, ClassVar, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability
from rainmaker.kernel.errors import InvalidInputError, PatternError, UnavailableError

# A dot-atom local part (RFC 5322 without quoted strings, which real mailboxes never need
# and which are a favourite of injection attempts) and an LDH domain with at least one dot.
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_NAMED = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]*)>\s*$")
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII without ':' (RFC 5322 ftext)
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")
_LINE_BREAKS = ("\r", "\n", "\x00", "\u2028", "\u2029", "\x85")

# Headers the mailer writes itself: letting ``headers`` set them would bypass validation.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "reply-to",
        "sender",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "return-path",
    }
)


def check_single_line(value: str, what: str) -> str:
    """``value`` unchanged, or :class:`InvalidInputError` when it holds a line break.

    A CR or LF inside a header value would start a new header (``Bcc: victim@…``): the
    classic header injection, refused here rather than escaped.
    """
    if any(mark in value for mark in _LINE_BREAKS):
        raise InvalidInputError(
            f"{what} must be one line, but {value!r} contains a line break "
            "(header injection refused)",
            pattern_id="mailer",
        )
    return value


def parse_address(value: str, what: str = "address") -> Address:
    """Validate ``"user@example.com"`` or ``"Name <user@example.com>"``.

    Raises :class:`InvalidInputError` naming the bad address. Domains may be
    internationalised (they are sent in their IDNA form); local parts must be ASCII.
    """
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{what} must be a string, not {type(value).__name__}", pattern_id="mailer"
        )
    check_single_line(value, what)
    named = _NAMED.match(value)
    name, addr = (named["name"], named["addr"].strip()) if named else ("", value.strip())
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    local, at, domain = addr.rpartition("@")
    problem = None
    if not at or not local or not domain:
        problem = "it needs the form user@example.com"
    elif not _LOCAL.match(local) or len(local) > 64:
        problem = f"the part before '@' ({local!r}) is not a valid mailbox name"
    else:
        try:
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_domain = ""
        labels = ascii_domain.split(".")
        if (
            len(labels) < 2
            or len(ascii_domain) > 253
            or not all(_LABEL.match(label) for label in labels)
            or labels[-1].isdigit()
        ):
            problem = f"the domain {domain!r} is not a valid domain name (like example.com)"
        elif len(local) + 1 + len(ascii_domain) > 254:
            problem = "it is longer than 254 characters"
        else:
            domain = ascii_domain
    if problem is not None:
        raise InvalidInputError(f"invalid {what} {value!r}: {problem}", pattern_id="mailer")
    return Address(display_name=name, username=local, domain=domain)


def _addresses(value: str | Sequence[str] | None, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(str(parse_address(item, what)) for item in items)


@dataclass(frozen=True)
class Attachment:
    """A file attached to an :class:`Email`: its name, MIME type and content."""

    filename: str
    content_type: str
    data: bytes

    def __post_init__(self) -> None:
        check_single_line(self.filename, "attachment filename")
        if not self.filename.strip() or "/" in self.filename or "\\" in self.filename:
            raise InvalidInputError(
                f"attachment filename {self.filename!r} must be a plain file name "
                "(no folders, not empty)",
                pattern_id="mailer",
            )
        if not _CONTENT_TYPE.match(self.content_type):
            raise InvalidInputError(
                f"attachment {self.filename!r}: content type {self.content_type!r} is not "
                "of the form type/subtype (e.g. application/pdf)",
                pattern_id="mailer",
            )
        if not isinstance(self.data, bytes | bytearray | memoryview):
            raise InvalidInputError(
                f"attachment {self.filename!r}: data must be bytes, not {type(self.data).__name__}",
                pattern_id="mailer",
            )
        object.__setattr__(self, "data", bytes(self.data))


@dataclass(frozen=True)
class Email:
    """One message, validated when it is built.

    ``to``/``cc``/``bcc`` take one address or a sequence (``"Name <a@b.example>"`` or
    ``"a@b.example"``) and are stored normalised as tuples; at least one recipient is
    needed. ``sender`` defaults to the mailer's ``default_sender`` setting. At least one of
    ``text`` and ``html`` is needed; with both, clients show the one they prefer.
    ``headers`` adds extra headers (``List-Unsubscribe``, ``X-…``), never the ones the
    mailer writes itself. Bcc recipients receive the message but appear in no header.
    """

    to: tuple[str, ...] | str | Sequence[str]
    subject: str
    text: str | None = None
    html: str | None = None
    cc: tuple[str, ...] | str | Sequence[str] = ()
    bcc: tuple[str, ...] | str | Sequence[str] = ()
    sender: str | None = None
    reply_to: tuple[str, ...] | str | Sequence[str] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    attachments: Sequence[Attachment] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "to", _addresses(self.to, "recipient address"))
        set_(self, "cc", _addresses(self.cc, "cc address"))
        set_(self, "bcc", _addresses(self.bcc, "bcc address"))
        set_(self, "reply_to", _addresses(self.reply_to, "reply-to address"))
        if self.sender is not None:
            set_(self, "sender", str(parse_address(self.sender, "sender address")))
        if not (self.to or self.cc or self.bcc):
            raise InvalidInputError(
                "an email needs at least one recipient in to, cc or bcc", pattern_id="mailer"
            )
        check_single_line(self.subject, "the subject")
        if not self.text and not self.html:
            raise InvalidInputError(
                f"email {self.subject!r} has no body: give text, html or both",
                pattern_id="mailer",
            )
        headers: dict[str, str] = {}
        for name, value in dict(self.headers).items():
            if not _HEADER_NAME.match(name):
                raise InvalidInputError(
                    f"header name {name!r} is not valid (printable ASCII, no ':' or spaces)",
                    pattern_id="mailer",
                )
            if name.lower() in RESERVED_HEADERS:
                raise InvalidInputError(
                    f"header {name!r} is set by the mailer; use the Email field instead",
                    pattern_id="mailer",
                )
            headers[name] = check_single_line(str(value), f"header {name}")
        set_(self, "headers", headers)
        attachments = tuple(self.attachments)
        for item in attachments:
            if not isinstance(item, Attachment):
                raise InvalidInputError(
                    f"attachments must be Attachment objects, not {type(item).__name__}",
                    pattern_id="mailer",
                )
        set_(self, "attachments", attachments)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every envelope recipient (to, cc and bcc) as bare addresses, without duplicates."""
        seen: dict[str, None] = {}
        for item in (*self.to, *self.cc, *self.bcc):
            seen.setdefault(parse_address(item).addr_spec, None)
        return tuple(seen)


@dataclass(frozen=True)
class Receipt:
    """What a send achieved: the ``Message-ID`` and who accepted or refused the message.

    A server may refuse some recipients and accept the others; the message was then sent
    to ``accepted`` and ``refused`` maps each refused address to the server's reason.
    (When *every* recipient is refused the send raises :class:`RecipientsRefusedError`.)
    """

    message_id: str
    accepted: tuple[str, ...]
    refused: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """One message's outcome in :meth:`MailSender.send_many`: a receipt or an error."""

    email: Email
    receipt: Receipt | None = None
    error: PatternError | None = None

    @property
    def ok(self) -> bool:
        """Whether the message was sent."""
        return self.error is None


@dataclass(frozen=True)
class RenderedTemplate:
    """A template rendered for one message: subject and the text and/or HTML body."""

    subject: str
    text: str | None
    html: str | None


class RecipientsRefusedError(PatternError):
    """The mail server refused every recipient; ``refused`` maps each to its reason.

    ``temporary`` is true when every refusal was a 4xx reply (mailbox busy, greylisting):
    trying again later may work.
    """

    code: ClassVar[str] = "recipients_refused"
    status: ClassVar[int] = 422
    title: ClassVar[str] = "Recipients refused"

    def __init__(self, refused: Mapping[str, str], *, temporary: bool = False, **kwargs: Any):
        names = ", ".join(f"{addr} ({reason})" for addr, reason in refused.items())
        super().__init__(f"the mail server refused the recipients: {names}", **kwargs)
        self.refused = dict(refused)
        self.temporary = temporary


class MessageRejectedError(PatternError):
    """The mail server refused the message itself (sender, size, content…).

    ``smtp_code`` is the server's reply code; 4xx codes are ``temporary``.
    """

    code: ClassVar[str] = "message_rejected"
    status: ClassVar[int] = 502
    title: ClassVar[str] = "Message rejected"

    def __init__(self, message: str, *, smtp_code: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.smtp_code = smtp_code
        self.temporary = smtp_code is not None and 400 <= smtp_code < 500


class TemplateNotFoundError(PatternError):
    """No template of that name exists in the app's templates folder or the package."""

    code: ClassVar[str] = "template_not_found"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Email template not found"


class TemplateRenderError(PatternError):
    """A template exists but cannot be rendered (syntax error, undefined variable)."""

    code: ClassVar[str] = "template_render_failed"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Email template failed"


def is_retryable(error: BaseException) -> bool:
    """Whether sending the same message again later may succeed.

    True for an unreachable server and for temporary (4xx) refusals; false for permanent
    refusals, invalid input and template problems, which a retry would only repeat.
    """
    if isinstance(error, UnavailableError):
        return True
    if isinstance(error, RecipientsRefusedError | MessageRejectedError):
        return error.temporary
    return False


@runtime_checkable
class MailSender(Protocol):
    """What every ``Mailer`` provider implements.

    ``send`` raises :class:`~rainmaker.UnavailableError` when the server cannot be reached
    (naming ``host:port``), :class:`RecipientsRefusedError` when every recipient is refused
    and :class:`MessageRejectedError` when the message is; it never hangs past the
    provider's timeout. ``send_many`` never raises for one message: each result carries its
    receipt or its error, in the order given.

    Templates are Jinja2 files named ``<name>.subject.txt``, ``<name>.txt`` and
    ``<name>.html`` (text and/or HTML). They are looked up first in the app's
    ``templates_dir`` (so an app overrides any pattern's template by file name), then in
    ``<package>/templates/email/`` (``package=None``: the email pattern's own templates).
    HTML is autoescaped; an undefined variable is an error, not an empty string.
    """

    @property
    def default_sender(self) -> str:
        """The ``From`` used when an :class:`Email` names no sender."""
        ...

    async def send(self, email: Email) -> Receipt: ...

    async def send_many(self, emails: Sequence[Email]) -> list[SendResult]: ...

    def render(
        self, name: str, context: Mapping[str, Any] | None = None, *, package: str | None = None
    ) -> RenderedTemplate: ...

    async def send_template(
        self,
        name: str,
        *,
        to: str | Sequence[str],
        context: Mapping[str, Any] | None = None,
        package: str | None = None,
        cc: str | Sequence[str] = (),
        bcc: str | Sequence[str] = (),
        sender: str | None = None,
        reply_to: str | Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Receipt: ...


Mailer: Capability[MailSender] = Capability(
    "Mailer", MailSender, description="Sends email: text and HTML, templates, attachments."
)
