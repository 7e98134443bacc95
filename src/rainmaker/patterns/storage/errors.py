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
