"""The storage patterns: ``storage-local`` (embedded default) and ``storage-s3``.

Both provide the :data:`~rainmaker.capabilities.storage.Storage` capability: streamed
put/get, head, exists, delete, paged listings, copy and signed URLs, with a size limit and
a content-type allow-list, and optional upload/download routes under ``/files``. Importing
this package is light; aioboto3 and FastAPI load only when a module needs them.
"""

from rainmaker.patterns.storage.pattern import storage_local, storage_s3

__all__ = ["storage_local", "storage_s3"]
