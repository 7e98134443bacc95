"""One error hierarchy for the whole framework.

Every error a pattern raises on purpose is a :class:`PatternError`. Each subclass has a
stable machine-readable ``code`` and the HTTP ``status`` it maps to, so the HTTP layer can
answer with RFC 9457 problem details without knowing any pattern, and the CLI can choose
an exit code without parsing messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, TypedDict, Unpack


class ErrorDetails(TypedDict, total=False):
    """The keyword arguments of :class:`PatternError`, for subclasses that add their own."""

    pattern_id: str | None
    hint: str | None
    cause: BaseException | None
    headers: Mapping[str, str] | None


class PatternError(Exception):
    """Base of every deliberate Rainmaker error.

    ``pattern_id`` names the pattern (or instance) the error belongs to, ``code`` is stable
    across releases, ``message`` is for people, ``hint`` says how to fix it, and ``cause``
    keeps the underlying exception for logs (it never reaches an HTTP client). ``headers``
    are added to the HTTP answer (``WWW-Authenticate`` on a 401, say).
    """

    code: ClassVar[str] = "pattern_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Pattern error"
    default_headers: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        message: str,
        *,
        pattern_id: str | None = None,
        hint: str | None = None,
        cause: BaseException | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.pattern_id = pattern_id
        self.hint = hint
        self.cause = cause
        self.headers: Mapping[str, str] = headers or self.default_headers
        if cause is not None:
            self.__cause__ = cause

    def __str__(self) -> str:
        where = f"[{self.pattern_id}] " if self.pattern_id else ""
        fix = f" (fix: {self.hint})" if self.hint else ""
        return f"{where}{self.message}{fix}"


class SettingsError(PatternError):
    """A pattern's settings are invalid."""

    code = "settings_invalid"
    status = 500
    title = "Invalid settings"


class DependencyError(PatternError):
    """A required capability is missing, ambiguous, of the wrong version or cyclic."""

    code = "dependency_unresolved"
    status = 500
    title = "Unresolved dependency"


class StartupError(PatternError):
    """A module failed to start (raised, timed out, or did not register what it provides).

    ``stopped`` names the instances that had started before it and were stopped again (in
    that order), so the report can say nothing was left running.
    """

    code = "startup_failed"
    status = 500
    title = "Startup failed"
    stopped: tuple[str, ...] = ()


class UnavailableError(PatternError):
    """A backing service (database, broker…) cannot be reached right now.

    Its message and hint are for operators by default (they may name hosts), so an HTTP
    client gets a generic sentence; ``public=True`` says they were written for the client
    ("payment-stripe has no webhook_secret…") and the problem body keeps both.
    """

    code = "unavailable"
    status = 503
    title = "Service unavailable"

    def __init__(
        self, message: str, *, public: bool = False, **details: Unpack[ErrorDetails]
    ) -> None:
        super().__init__(message, **details)
        self.public = public


class NotFoundError(PatternError):
    """The thing asked for does not exist."""

    code = "not_found"
    status = 404
    title = "Not found"


class ConflictError(PatternError):
    """The request conflicts with the current state (duplicate, stale version…)."""

    code = "conflict"
    status = 409
    title = "Conflict"


class UnauthorizedError(PatternError):
    """No valid credentials were presented."""

    code = "unauthorized"
    status = 401
    title = "Unauthorized"


class ForbiddenError(PatternError):
    """Credentials are valid but do not allow this action."""

    code = "forbidden"
    status = 403
    title = "Forbidden"


class InvalidInputError(PatternError):
    """The caller sent input that breaks a rule (not a schema error, which is 422 anyway)."""

    code = "invalid_input"
    status = 422
    title = "Invalid input"


class RateLimitedError(PatternError):
    """Too many attempts; ``retry_after`` seconds until the next one is allowed."""

    code = "rate_limited"
    status = 429
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: float, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a composition, located precisely enough to fix.

    ``instance`` and ``key`` say where (either may be empty for file-level problems),
    ``message`` says what, ``fix`` says how, ``value`` shows the offending value, already
    redacted when it is a secret.
    """

    message: str
    instance: str = ""
    key: str = ""
    fix: str = ""
    value: str | None = None

    @property
    def location(self) -> str:
        """``instance.key`` or whichever part is known."""
        return ".".join(part for part in (self.instance, self.key) if part)

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        shown = f" (got {self.value})" if self.value is not None else ""
        fix = f"\n    fix: {self.fix}" if self.fix else ""
        return f"{where}{self.message}{shown}{fix}"


class CompositionError(PatternError):
    """A composition is invalid; ``problems`` holds every problem found, not just the first."""

    code = "composition_invalid"
    status = 500
    title = "Invalid composition"

    def __init__(self, problems: list[Problem], *, where: str = "the composition") -> None:
        count = len(problems)
        summary = f"{count} problem{'s' if count != 1 else ''} in {where}"
        super().__init__(summary)
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  - {p}" for p in self.problems)])
