"""Keeping secrets on the server: scrub every value the dashboard sends.

Settings are shown through the kernel's :func:`~rainmaker.kernel.display.display` (the
same rule as ``rainmaker config show``); free-form data (health details, job errors) may
quote a secret by accident, so every string in it is searched for the plain text of every
secret the app's settings hold, and URLs lose their passwords.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rainmaker import SECRET_MASK as MASK
from rainmaker import AppView, redact_url, secret_values


class Scrubber:
    """Replaces known secret values in nested data with the mask."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    @classmethod
    def for_app(cls, application: AppView) -> Scrubber:
        """A scrubber knowing every secret of ``application``'s instances."""
        return cls(s for i in application.instances.values() for s in secret_values(i.settings))

    def text(self, value: str) -> str:
        """``value`` with every secret masked and URL passwords hidden."""
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return redact_url(value)

    def data(self, value: Any) -> Any:
        """JSON-like ``value`` with :meth:`text` applied to every string (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.data(item) for item in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.text(str(value))
