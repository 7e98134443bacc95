"""Errors of the storage patterns that the kernel's hierarchy has no class for."""

from __future__ import annotations

from rainmaker import PatternError, UnavailableError


class ObjectTooLargeError(PatternError):
    """An object is over the ``max_size`` setting; nothing was stored (HTTP 413)."""

    code = "object_too_large"
    status = 413
    title = "Object too large"


class StorageCredentialsError(UnavailableError):
    """The S3 server refused our credentials: storage cannot be used until they are fixed.

    A 503 for HTTP clients (the fault is the server's configuration, not the caller's),
    with its own code so operators can tell it from an outage.
    """

    code = "storage_credentials_rejected"
    title = "Storage credentials rejected"


class StorageFullError(UnavailableError):
    """The disk (or quota) holding the objects is full: nothing was stored (HTTP 507).

    An :class:`~rainmaker.UnavailableError` so that it is logged as an outage (one warning
    line, no traceback): the caller did nothing wrong and may retry once space is freed.
    """

    code = "storage_full"
    status = 507
    title = "Insufficient storage"


class StorageNotWritableError(UnavailableError):
    """The storage root is read-only or not ours to write (EROFS, EACCES, EPERM): HTTP 503."""

    code = "storage_not_writable"
    title = "Storage not writable"
