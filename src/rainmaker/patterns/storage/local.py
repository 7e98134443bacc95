"""``LocalObjectStore``: objects as files under one root folder, no server needed.

Layout: each key segment is a folder named by its percent-encoding; the object itself is
``<leaf>!data``, its metadata (content type, etag) in an extended attribute of that file
or, where the file system has none, a sidecar ``<leaf>!meta.json`` beside it (see
:mod:`.local_files`). Percent-encoding never produces ``!``, so folder names and file
names can never collide, and ``a`` and ``a/b`` can both exist as in S3. Writes go to
``<leaf>!tmp-<random>`` in the same folder, are fsynced and then ``os.replace``-d over the
old file, so a reader sees the old object or the new one, never half of one.

A full disk (``ENOSPC``, ``EDQUOT``) fails a write with :class:`StorageFullError` (507) and
a read-only or forbidden root (``EROFS``, ``EACCES``, ``EPERM``) with
:class:`StorageNotWritableError` (503), each naming the root and the errno; the temp file
is removed and the old object, never touched before the final rename, stays intact.

Blocking file calls run in worker threads (``asyncio.to_thread``), so the event loop keeps
serving while large objects move: a put of a bytes body, or the last batch of a stream,
is written, hashed, fsynced and renamed in one hop; a stream moves in batches of about
1 MiB, so memory stays at one batch.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import contextlib
import errno
import mimetypes
import os
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import quote, unquote

from rainmaker import InvalidInputError, NotFoundError, UnavailableError
from rainmaker.capabilities.storage import (
    Body,
    ObjectInfo,
    ObjectPage,
    ObjectReader,
    ObjectSummary,
    SignedMethod,
)
from rainmaker.patterns.storage.errors import StorageFullError, StorageNotWritableError
from rainmaker.patterns.storage.keys import validate_key, validate_listing, validate_signing
from rainmaker.patterns.storage.local_files import (
    DATA_SUFFIX,
    ObjectPaths,
    StoredMeta,
    TempObject,
    md5_of,
    read_meta,
)
from rainmaker.patterns.storage.policy import DEFAULT_CONTENT_TYPE, UploadPolicy
from rainmaker.patterns.storage.signing import UrlSigner

# Leaves get a suffix of up to 37 characters; most file systems cap names at 255 bytes.
MAX_SEGMENT_BYTES = 200
# Streamed chunks are written (and hashed) in batches of about this size: one thread hop
# per MiB whatever size the chunks come in, and at most one batch held per put.
WRITE_BATCH_BYTES = 1024 * 1024
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
NOT_WRITABLE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
T = TypeVar("T")


def encode_segment(segment: str) -> str:
    """A key segment as a file name: percent-encoded, so it never holds ``/`` or ``!``."""
    return quote(segment, safe="")


def encode_cursor(key: str) -> str:
    """The opaque cursor after ``key``."""
    return base64.urlsafe_b64encode(key.encode()).decode("ascii")


def decode_cursor(cursor: str, pattern_id: str | None) -> str:
    """The key a cursor stands for; :class:`InvalidInputError` for a cursor we did not issue."""
    try:
        return base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidInputError(
            f"listing cursor {cursor[:40]!r} is not valid",
            pattern_id=pattern_id,
            hint="pass back the cursor of the previous page unchanged",
        ) from None


class LocalObjectStore:
    """The ``Storage`` service of ``storage-local``.

    ``url_base`` is what signed URLs start with (the public URL plus the instance's mount
    prefix); ``fsync`` makes each write durable before it becomes visible.
    """

    def __init__(
        self,
        root: Path,
        *,
        instance: str,
        policy: UploadPolicy,
        signer: UrlSigner,
        url_base: str,
        url_expiry: float,
        chunk_size: int,
        fsync: bool = True,
    ) -> None:
        self.root = root
        self._instance = instance
        self.policy = policy
        self.signer = signer
        self.url_base = url_base
        self.url_expiry = url_expiry
        self.chunk_size = chunk_size
        self.fsync = fsync
        # One lock per key while data and sidecar are swapped in, so two concurrent puts
        # in this process cannot pair one's data with the other's metadata.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def instance(self) -> str:
        return self._instance

    # -- paths -----------------------------------------------------------------------------

    def paths(self, key: str) -> ObjectPaths:
        """Validate ``key`` and return where it lives; nothing can point outside the root."""
        validate_key(key, pattern_id=self._instance)
        segments = [encode_segment(s) for s in key.split("/")]
        for segment in segments:
            if len(segment.encode()) > MAX_SEGMENT_BYTES:
                raise InvalidInputError(
                    f"invalid storage key {key[:80]!r}: a path segment is longer than "
                    f"{MAX_SEGMENT_BYTES} bytes once percent-encoded, which storage-local "
                    "cannot store as a file name",
                    pattern_id=self._instance,
                    hint="split the key into shorter segments with '/'",
                )
        return ObjectPaths(self.root.joinpath(*segments[:-1]), segments[-1])

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    def _not_found(self, key: str) -> NotFoundError:
        return NotFoundError(f"no object stored under key {key!r}", pattern_id=self._instance)

    # -- writing ---------------------------------------------------------------------------

    def write_error(self, error: OSError, key: str, action: str) -> UnavailableError | None:
        """The storage error a failed write means, or ``None`` for any other ``OSError``."""
        name = errno.errorcode.get(error.errno or 0, str(error.errno))
        reason = f"errno {name}: {error.strerror or error}"
        if error.errno in FULL_ERRNOS:
            return StorageFullError(
                f"cannot {action} {key!r}: the file system holding the storage root "
                f"{self.root} is full ({reason}); nothing was stored, the old object is intact",
                pattern_id=self._instance,
                hint=f"free space on the file system holding {self.root}, or move the root "
                "setting to a larger one",
                cause=error,
            )
        if error.errno in NOT_WRITABLE_ERRNOS:
            return StorageNotWritableError(
                f"cannot {action} {key!r}: the storage root {self.root} is not writable "
                f"({reason}); nothing was changed",
                pattern_id=self._instance,
                hint=f"mount {self.root} read-write and give the app's user write "
                "permission on it, or point the root setting at a writable folder",
                cause=error,
            )
        return None

    @contextlib.contextmanager
    def _writing(self, key: str, action: str) -> Iterator[None]:
        """Turn a full or read-only disk into its storage error (one log line, no traceback)."""
        try:
            yield
        except OSError as error:
            translated = self.write_error(error, key, action)
            if translated is None:
                raise
            raise translated from None

    async def put(self, key: str, data: Body, *, content_type: str | None = None) -> ObjectInfo:
        """Store ``data`` under ``key`` atomically (see the module docstring)."""
        with self._writing(key, "store"):
            return await self._put(key, data, content_type)

    async def _put(self, key: str, data: Body, content_type: str | None) -> ObjectInfo:
        paths = self.paths(key)
        chosen = self.policy.content_type_for(key, content_type)
        temp = TempObject(paths, fsync=self.fsync)
        if isinstance(data, bytes | bytearray | memoryview):
            body = bytes(data)
            self.policy.check_size(len(body))
            return await self._finish(key, temp, chosen, lambda: temp.write([body]))
        # Small chunks (an upload handler's 64 KiB) are gathered into batches of about
        # WRITE_BATCH_BYTES, so the thread hops are per MiB, not per chunk. The MD5 of a
        # batch runs in its own thread and may still be running while the batch is
        # written and the next chunks arrive: hashing overlaps the whole stream instead
        # of each write (both release the GIL). Batches are hashed in order because each
        # hash waits for the previous one.
        batch: list[bytes] = []
        batched = 0
        hashing: asyncio.Future[None] | None = None
        try:
            async for chunk in self.policy.limited(data):
                batch.append(chunk)
                batched += len(chunk)
                if batched < WRITE_BATCH_BYTES:
                    continue
                if hashing is not None:
                    await hashing
                hashing = asyncio.ensure_future(asyncio.to_thread(temp.hash, batch))
                await _in_thread(temp.write, batch, hashed=False)
                batch, batched = [], 0  # a new list: the hashing thread still reads the old
            if hashing is not None:
                await hashing
                hashing = None
        except BaseException:
            if hashing is not None:
                hashing.cancel()
            await asyncio.to_thread(self._abandon, temp)
            raise
        last = batch
        return await self._finish(key, temp, chosen, lambda: temp.write(last))

    async def copy(self, source: str, destination: str) -> ObjectInfo:
        """Copy ``source`` to ``destination`` (in the kernel where it can, then the same swap)."""
        with self._writing(destination, "copy to"):
            return await self._copy(source, destination)

    async def _copy(self, source: str, destination: str) -> ObjectInfo:
        source_paths = self.paths(source)
        temp = TempObject(self.paths(destination), fsync=self.fsync)
        info = await self.head(source)

        def fill() -> None:
            try:
                temp.copy_from(source_paths.data)
            except FileNotFoundError:
                raise self._not_found(source) from None

        return await self._finish(destination, temp, info.content_type, fill, etag=info.etag)

    async def _finish(
        self,
        key: str,
        temp: TempObject,
        content_type: str,
        fill: Callable[[], None],
        *,
        etag: str | None = None,
    ) -> ObjectInfo:
        """``fill`` the temp file, seal it and swap it in, in one thread hop where it can.

        An object whose metadata is a file attribute swaps in with one rename, atomic on its
        own; one with a sidecar swaps two files, under the key's lock, in a second hop.
        """

        def fill_seal_commit() -> StoredMeta:
            fill()
            meta = temp.seal(content_type, etag)
            if not temp.needs_lock:
                temp.commit()
            return meta

        try:
            meta = await _in_thread(fill_seal_commit)
            if temp.needs_lock:
                async with self._lock(key):
                    await _in_thread(temp.commit)
        except BaseException:
            await asyncio.to_thread(self._abandon, temp)
            raise
        return ObjectInfo(
            key=key,
            size=temp.size,
            content_type=meta.content_type,
            etag=meta.etag,
            last_modified=datetime.fromtimestamp(temp.modified, UTC),
        )

    def _abandon(self, temp: TempObject) -> None:
        temp.discard()
        self._prune(temp.paths.folder)

    async def delete(self, key: str) -> None:
        """Remove the object and its sidecar, then folders left empty."""
        paths = self.paths(key)
        with self._writing(key, "delete"):
            async with self._lock(key):
                await asyncio.to_thread(self._delete, paths)

    def _delete(self, paths: ObjectPaths) -> None:
        paths.data.unlink(missing_ok=True)
        paths.meta.unlink(missing_ok=True)
        self._prune(paths.folder)

    def _prune(self, folder: Path) -> None:
        """Remove ``folder`` and its parents up to the root while they are empty."""
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:  # not empty (or already gone): stop pruning
                break
            folder = folder.parent

    # -- reading ---------------------------------------------------------------------------

    async def head(self, key: str) -> ObjectInfo:
        """Metadata from the file's attribute (or sidecar), size and time from the file."""
        paths = self.paths(key)
        info = await asyncio.to_thread(self._read_info, key, paths)
        if info is None:
            raise self._not_found(key)
        return info

    async def exists(self, key: str) -> bool:
        """Whether the data file exists."""
        return await asyncio.to_thread(self.paths(key).data.is_file)

    def _read_info(
        self, key: str, paths: ObjectPaths, handle: IO[bytes] | None = None
    ) -> ObjectInfo | None:
        """What is known of ``key`` (of the open ``handle`` when given), ``None`` if missing."""
        try:
            stat = os.fstat(handle.fileno()) if handle is not None else paths.data.stat()
        except FileNotFoundError:
            return None
        meta = read_meta(paths, handle)
        if meta is None:
            # Metadata lost (a root copied without its extended attributes, a sidecar lost
            # to a crash between two renames): rebuild what it said.
            content_type = mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
            meta = StoredMeta(content_type, md5_of(paths.data))
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            content_type=meta.content_type,
            etag=meta.etag,
            last_modified=datetime.fromtimestamp(stat.st_mtime, UTC),
        )

    async def get(self, key: str, *, chunk_size: int | None = None) -> ObjectReader:
        """Open the file now (so a missing key fails here) and stream it chunk by chunk."""
        paths = self.paths(key)
        size = chunk_size or self.chunk_size

        def open_object() -> tuple[ObjectInfo | None, IO[bytes] | None, bytes]:
            try:
                handle = open(paths.data, "rb")
            except FileNotFoundError:
                return None, None, b""
            # Size and metadata of the open handle: it pins the content we will stream.
            info = self._read_info(key, paths, handle)
            # The first chunk rides along in the same thread hop: an object of one chunk
            # then costs one hop in all, not three (open, read, read to EOF).
            return info, handle, handle.read(size)

        info, handle, first = await asyncio.to_thread(open_object)
        if info is None or handle is None:
            if handle is not None:
                handle.close()
            raise self._not_found(key)
        # Objects are replaced by rename, never written in place, so the open file keeps
        # the size fstat saw: stop there instead of one more read to find the end.
        remaining = info.size - len(first)

        async def chunks() -> AsyncIterator[bytes]:
            left = remaining
            if first:
                yield first
            while left > 0 and (chunk := await asyncio.to_thread(handle.read, size)):
                left -= len(chunk)
                yield chunk

        async def close() -> None:
            handle.close()

        return ObjectReader(info, chunks(), close)

    async def list(
        self, prefix: str = "", *, cursor: str | None = None, limit: int = 1000
    ) -> ObjectPage:
        """Walk the folders in key order, skipping whole subtrees before the cursor."""
        validate_listing(prefix, limit, pattern_id=self._instance)
        after = decode_cursor(cursor, self._instance) if cursor else None
        items = await asyncio.to_thread(self._list, prefix, after, limit)
        if len(items) > limit:
            items = items[:limit]
            return ObjectPage(items, encode_cursor(items[-1].key))
        return ObjectPage(items, None)

    def _list(self, prefix: str, after: str | None, limit: int) -> builtins.list[ObjectSummary]:
        found: builtins.list[ObjectSummary] = []
        # Start in the deepest folder the prefix names completely.
        base_segments = prefix.split("/")[:-1]
        start = self.root.joinpath(*(encode_segment(s) for s in base_segments))
        start_key = "".join(s + "/" for s in base_segments)

        def walk(folder: Path, key_prefix: str) -> bool:
            try:
                with os.scandir(folder) as scan:
                    entries = list(scan)
            except (FileNotFoundError, NotADirectoryError):
                return False
            # Sort as S3 does (by key): a folder "x" holds keys "x/…", so it sorts as "x/".
            ordered: builtins.list[tuple[str, bool, str]] = []
            for entry in entries:
                if entry.name.endswith(DATA_SUFFIX):
                    leaf = entry.name[: -len(DATA_SUFFIX)]
                    ordered.append((unquote(leaf), False, leaf))
                elif "!" not in entry.name and entry.is_dir(follow_symlinks=False):
                    ordered.append((unquote(entry.name) + "/", True, entry.path))
            ordered.sort()
            for name, is_folder, where in ordered:
                key = key_prefix + name
                if is_folder:
                    if not (key.startswith(prefix) or prefix.startswith(key)):
                        continue
                    if after is not None and after > key and not after.startswith(key):
                        continue  # the whole subtree sorts before the cursor
                    if walk(Path(where), key):
                        return True
                    continue
                if not key.startswith(prefix) or (after is not None and key <= after):
                    continue
                info = self._read_info(key, ObjectPaths(folder, where))
                if info is None:  # deleted while we walked
                    continue
                found.append(ObjectSummary(key, info.size, info.etag, info.last_modified))
                if len(found) > limit:
                    return True
            return False

        walk(start, start_key)
        return found

    # -- signed URLs -----------------------------------------------------------------------

    async def signed_url(
        self,
        key: str,
        *,
        method: SignedMethod = "GET",
        expires_in: float | None = None,
        content_type: str | None = None,
    ) -> str:
        """A URL to this instance's own signed route (see :mod:`.signing`)."""
        validate_signing(key, method, pattern_id=self._instance)
        if content_type is not None and method == "PUT":
            self.policy.content_type_for(key, content_type)
        return self.signer.sign(
            self.url_base,
            key,
            method=method,
            expires_in=self.url_expiry if expires_in is None else expires_in,
            content_type=content_type if method == "PUT" else None,
        )


async def _in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function`` in a worker thread; when cancelled, wait for the thread before raising.

    A thread cannot be stopped: the cleanup after a cancelled write must not remove the
    temp file while the thread still writes to it.
    """
    future = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await future
        raise
