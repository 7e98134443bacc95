"""Request ids: honour the caller's when well-formed, otherwise make one.

The id is echoed in the response header, stored in ``request.state.request_id``, put in
every problem+json body and bound to every log line of the request (structlog
contextvars), so one grep finds everything that happened to a request.
"""

from __future__ import annotations

import os
import re

# Letters, digits and a few separators: enough for UUIDs, ULIDs and trace ids, and
# nothing that could forge a log line or a header (no spaces, quotes or control chars).
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


_POOL_SIZE = 4096
_pool = b""
_offset = _POOL_SIZE


def new_request_id() -> str:
    """A fresh random id: 32 hex characters (128 bits from the OS's CSPRNG).

    The random bytes are drawn 4 KiB at a time (each byte used once): one system call
    per 256 ids instead of one per request.
    """
    global _pool, _offset
    if _offset >= _POOL_SIZE:
        _pool, _offset = os.urandom(_POOL_SIZE), 0
    start = _offset
    _offset = start + 16
    return _pool[start : start + 16].hex()


def accept_request_id(raw: bytes | None) -> str:
    """The caller's id when it is well-formed, else a new one."""
    if raw:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            return new_request_id()
        if WELL_FORMED.fullmatch(text):
            return text
    return new_request_id()
