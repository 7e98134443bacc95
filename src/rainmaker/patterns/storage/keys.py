"""Object keys: the one set of rules every storage backend enforces.

Keys are ``/``-separated paths like ``avatars/42.png``. The rules keep keys portable
between S3 and a folder and make escaping the local root impossible: no absolute paths,
no ``.``/``..``/empty segments, no backslashes, no control characters, at most 1,024 bytes
of UTF-8 (S3's own limit).
"""

from __future__ import annotations

import re

from rainmaker import InvalidInputError
from rainmaker.capabilities.storage import SignedMethod

MAX_KEY_BYTES = 1024
# C0 controls, DEL and C1 controls: invisible in logs and meaningless in names.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def validate_key(key: str, *, pattern_id: str | None = None) -> str:
    """Return ``key`` when it follows the rules, else raise :class:`InvalidInputError`
    saying which rule it breaks."""

    def refuse(reason: str, hint: str) -> InvalidInputError:
        return InvalidInputError(
            f"invalid storage key {key[:80]!r}: {reason}", pattern_id=pattern_id, hint=hint
        )

    if not isinstance(key, str) or not key:
        raise refuse("the key is empty", "use a path such as 'avatars/42.png'")
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise refuse(
            f"the key is {size} bytes long, over the limit of {MAX_KEY_BYTES} bytes",
            "shorten the key",
        )
    if "\x00" in key:
        raise refuse("the key contains a NUL character", "remove the NUL character")
    if _CONTROL.search(key):
        raise refuse("the key contains a control character", "remove control characters")
    if key.startswith("/") or re.match(r"^[A-Za-z]:", key):
        raise refuse("absolute paths are not allowed", "drop the leading '/' or drive")
    if "\\" in key:
        raise refuse("backslashes are not allowed", "separate segments with '/'")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            shown = segment or "an empty segment"
            raise refuse(
                f"'..', '.' and empty path segments are not allowed (found {shown!r})",
                "remove the segment; keys cannot point outside the storage",
            )
    return key


def validate_prefix(prefix: str, *, pattern_id: str | None = None) -> str:
    """A listing prefix: empty, or a key or key beginning (a trailing ``/`` is fine)."""
    if prefix:
        validate_key(prefix.removesuffix("/") or "/", pattern_id=pattern_id)
    return prefix


def validate_listing(prefix: str, limit: int, *, pattern_id: str | None = None) -> None:
    """Raise :class:`InvalidInputError` unless ``prefix`` and ``limit`` make a valid listing."""
    validate_prefix(prefix, pattern_id=pattern_id)
    if limit < 1:
        raise InvalidInputError("limit must be at least 1", pattern_id=pattern_id)


def validate_signing(key: str, method: SignedMethod, *, pattern_id: str | None = None) -> None:
    """Raise :class:`InvalidInputError` unless a signed URL can be made for ``method`` on
    ``key`` (signed URLs are for GET or PUT)."""
    validate_key(key, pattern_id=pattern_id)
    if method not in ("GET", "PUT"):
        raise InvalidInputError(
            f"signed URLs are for GET or PUT, not {method!r}", pattern_id=pattern_id
        )
