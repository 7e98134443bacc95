"""``LocalObjectStore``: objects as files under one root folder, no server needed.

Layout: each key segment is a folder named by its percent-encoding; the object itself is
``<leaf>!data`` and its metadata (key, content type, etag) a sidecar ``<leaf>!meta.json``
beside it. Percent-encoding never produces ``!``, so folder names and file names can never
collide, and ``a`` and ``a/b`` can both exist as in S3. Writes go to ``<leaf>!tmp-<random>``
in the same folder, are fsynced and then ``os.replace``-d over the old file, so a reader
sees the old object or the new one, never half of one.

A full disk (``ENOSPC``, ``EDQUOT``) fails a write with :class:`StorageFullError` (507) and
a read-only or forbidden root (``EROFS``, ``EACCES``, ``EPERM``) with
:class:`StorageNotWritableError` (503), each naming the root and the errno; the temp file
is removed and the old object, never touched before the final rename, stays intact.

Blocking file calls run in worker threads (``asyncio.to_thread``) one chunk at a time, so
the event loop keeps serving while large objects move and memory stays at one chunk.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import contextlib
import errno
import hashlib
import json
import mimetypes
import os
import shutil
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
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
from rainmaker.patterns.storage.policy import DEFAULT_CONTENT_TYPE, UploadPolicy
from rainmaker.patterns.storage.signing import UrlSigner

DATA_SUFFIX = "!data"
META_SUFFIX = "!meta.json"
TEMP_MARK = "!tmp-"
# Leaves get a suffix of up to 37 characters; most file systems cap names at 255 bytes.
MAX_SEGMENT_BYTES = 200
# Chunks at least this big are hashed and written in two threads at once.
PARALLEL_HASH_BYTES = 256 * 1024
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
NOT_WRITABLE_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


@dataclass(frozen=True)
class ObjectPaths:
    """Where one key lives on disk."""

    folder: Path
    leaf: str

    @property
    def data(self) -> Path:
        return self.folder / (self.leaf + DATA_SUFFIX)

    @property
    def meta(self) -> Path:
        return self.folder / (self.leaf + META_SUFFIX)

    def temp(self) -> Path:
        return self.folder / f"{self.leaf}{TEMP_MARK}{uuid.uuid4().hex}"


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
        temp = await asyncio.to_thread(self._open_temp, paths)
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        # MD5 of a big chunk runs in its own thread and may still be running while this
        # chunk is written and the next one arrives: hashing overlaps the whole stream
        # instead of each write (both release the GIL). Chunks are hashed in order
        # because each hash waits for the previous one.
        hashing: asyncio.Future[None] | None = None
        try:
            async for chunk in self.policy.limited(data):
                if hashing is not None:
                    await hashing
                    hashing = None
                if len(chunk) >= PARALLEL_HASH_BYTES:
                    hashing = asyncio.ensure_future(asyncio.to_thread(digest.update, chunk))
                    await asyncio.to_thread(temp.write, chunk)
                else:
                    await asyncio.to_thread(_write_chunk, temp, chunk, digest)
                size += len(chunk)
            if hashing is not None:
                await hashing
                hashing = None
            meta = {"key": key, "content_type": chosen, "etag": digest.hexdigest(), "size": size}
            meta_temp = await self._finish_both(temp, paths, meta)
        except BaseException:
            if hashing is not None:
                # The thread cannot be cancelled: let it finish before the chunk goes.
                with contextlib.suppress(BaseException):
                    await asyncio.shield(hashing)
            await asyncio.to_thread(_discard, temp)
            await asyncio.to_thread(self._prune, paths.folder)
            raise
        return await self._commit(key, paths, Path(temp.name), meta_temp, meta)

    async def copy(self, source: str, destination: str) -> ObjectInfo:
        """Copy ``source`` to ``destination`` (file copy in a thread, then the same swap)."""
        with self._writing(destination, "copy to"):
            return await self._copy(source, destination)

    async def _copy(self, source: str, destination: str) -> ObjectInfo:
        source_paths = self.paths(source)
        paths = self.paths(destination)
        info = await self.head(source)
        temp = await asyncio.to_thread(self._open_temp, paths)
        meta = {
            "key": destination,
            "content_type": info.content_type,
            "etag": info.etag,
            "size": info.size,
        }
        try:
            await asyncio.to_thread(self._copy_into, source_paths.data, temp, source)
            meta_temp = await self._finish_both(temp, paths, meta)
        except BaseException:
            await asyncio.to_thread(_discard, temp)
            raise
        return await self._commit(destination, paths, Path(temp.name), meta_temp, meta)

    def _open_temp(self, paths: ObjectPaths) -> IO[bytes]:
        for _ in range(3):  # a concurrent delete may prune the folder we just made
            paths.folder.mkdir(parents=True, exist_ok=True)
            try:
                return open(paths.temp(), "xb")
            except FileNotFoundError:
                continue
        return open(paths.temp(), "xb")

    def _finish(self, handle: IO[bytes]) -> None:
        handle.flush()
        if self.fsync:
            os.fsync(handle.fileno())
        handle.close()

    async def _finish_both(
        self, handle: IO[bytes], paths: ObjectPaths, meta: dict[str, Any]
    ) -> Path:
        """Make the data temp file and a new sidecar temp file durable, side by side.

        The two fsyncs run in two threads at once: the file system commits them in one
        journal transaction where it can, so a put costs about one fsync, not two.
        """
        finished, meta_temp = await asyncio.gather(
            asyncio.to_thread(self._finish, handle),
            asyncio.to_thread(self._write_meta, paths, meta),
            return_exceptions=True,
        )
        if isinstance(meta_temp, BaseException):
            raise meta_temp
        if isinstance(finished, BaseException):
            meta_temp.unlink(missing_ok=True)
            raise finished
        return meta_temp

    def _write_meta(self, paths: ObjectPaths, meta: dict[str, Any]) -> Path:
        meta_temp = paths.temp()
        try:
            with open(meta_temp, "x", encoding="utf-8") as handle:
                json.dump(meta, handle)
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
        except BaseException:
            meta_temp.unlink(missing_ok=True)
            raise
        return meta_temp

    def _copy_into(self, source: Path, handle: IO[bytes], key: str) -> None:
        try:
            with open(source, "rb") as reader:
                shutil.copyfileobj(reader, handle, self.chunk_size)
        except FileNotFoundError:
            raise self._not_found(key) from None

    async def _commit(
        self, key: str, paths: ObjectPaths, temp: Path, meta_temp: Path, meta: dict[str, Any]
    ) -> ObjectInfo:
        async with self._lock(key):
            return await asyncio.to_thread(self._swap_in, paths, temp, meta_temp, meta)

    def _swap_in(
        self, paths: ObjectPaths, temp: Path, meta_temp: Path, meta: dict[str, Any]
    ) -> ObjectInfo:
        try:
            os.replace(temp, paths.data)
            os.replace(meta_temp, paths.meta)
        except BaseException:
            temp.unlink(missing_ok=True)
            meta_temp.unlink(missing_ok=True)
            raise
        if self.fsync:
            _fsync_folder(paths.folder)
        stat = paths.data.stat()
        return ObjectInfo(
            key=meta["key"],
            size=meta["size"],
            content_type=meta["content_type"],
            etag=meta["etag"],
            last_modified=datetime.fromtimestamp(stat.st_mtime, UTC),
        )

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
        """Metadata from the sidecar, size and time from the file itself."""
        paths = self.paths(key)
        info = await asyncio.to_thread(self._read_info, key, paths)
        if info is None:
            raise self._not_found(key)
        return info

    async def exists(self, key: str) -> bool:
        """Whether the data file exists."""
        return await asyncio.to_thread(self.paths(key).data.is_file)

    def _read_info(self, key: str, paths: ObjectPaths) -> ObjectInfo | None:
        try:
            stat = paths.data.stat()
        except FileNotFoundError:
            return None
        try:
            meta = json.loads(paths.meta.read_text(encoding="utf-8"))
            content_type, etag = str(meta["content_type"]), str(meta["etag"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            # A sidecar lost to a crash between the two renames: rebuild what it said.
            content_type = mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
            etag = _md5_of(paths.data)
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            content_type=content_type,
            etag=etag,
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
            # Metadata after opening: the open handle pins the content we will stream.
            info = self._read_info(key, paths)
            if info is not None:
                info = ObjectInfo(
                    key,
                    os.fstat(handle.fileno()).st_size,
                    info.content_type,
                    info.etag,
                    info.last_modified,
                )
                # The first chunk rides along in the same thread hop: an object of one
                # chunk then costs one hop in all, not three (open, read, read to EOF).
                return info, handle, handle.read(size)
            return info, handle, b""

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


def _write_chunk(handle: IO[bytes], chunk: bytes, digest: Any) -> None:
    handle.write(chunk)
    digest.update(chunk)


def _discard(handle: IO[bytes]) -> None:
    with contextlib.suppress(OSError):
        handle.close()
    Path(handle.name).unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    """Make the renames durable too (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
