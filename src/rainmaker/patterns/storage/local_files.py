"""How ``storage-local`` lays an object out on disk and writes one durably.

An object is one file, ``<leaf>!data``, in the folder its key names. Its metadata (the
content type and the MD5 etag) lives in the file's own extended attribute
``user.rainmaker.meta`` (JSON), so data and metadata are written, fsynced and renamed into
place together: one file, one fsync, one atomic rename. File systems without user
extended attributes (ramfs, some network mounts) get a sidecar file ``<leaf>!meta.json``
instead, written and fsynced beside the data and renamed after it; readers look at the
attribute first, then the sidecar, then rebuild the metadata from the file itself (the
content type guessed from the key, the MD5 recomputed) — what happens to a root copied
without its extended attributes (use ``cp -a``, ``rsync -X`` or ``tar --xattrs``).

:class:`TempObject` is one write in progress: a temp file ``<leaf>!tmp-<random>`` beside
the final name, the MD5 of what went in, then :meth:`TempObject.seal` (metadata, fsync)
and :meth:`TempObject.commit` (rename, folder fsync). Every method blocks; the store runs
them in worker threads.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

DATA_SUFFIX = "!data"
META_SUFFIX = "!meta.json"
TEMP_MARK = "!tmp-"
META_XATTR = "user.rainmaker.meta"
# setxattr/getxattr failing with these means "no user attributes here": use the sidecar.
NO_XATTR_ERRNOS = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, errno.E2BIG, errno.ERANGE})
COPY_CHUNK = 8 * 1024 * 1024


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


@dataclass(frozen=True)
class StoredMeta:
    """What the data file itself does not say: its content type and etag."""

    content_type: str
    etag: str

    def encode(self) -> bytes:
        return json.dumps({"content_type": self.content_type, "etag": self.etag}).encode()

    @classmethod
    def decode(cls, raw: bytes | str) -> StoredMeta | None:
        """The metadata in ``raw``, or ``None`` when it is not ours or is damaged."""
        try:
            meta = json.loads(raw)
            return cls(str(meta["content_type"]), str(meta["etag"]))
        except (ValueError, KeyError, TypeError):
            return None


def read_meta(paths: ObjectPaths, handle: IO[bytes] | None = None) -> StoredMeta | None:
    """The object's metadata: its attribute (from the open ``handle`` when given, so it
    belongs to the content being read), else its sidecar, else ``None``."""
    try:
        raw = os.getxattr(handle.fileno() if handle is not None else paths.data, META_XATTR)
    except OSError as error:
        if error.errno not in NO_XATTR_ERRNOS and error.errno != errno.ENODATA:
            raise
    else:
        if (meta := StoredMeta.decode(raw)) is not None:
            return meta
    try:
        return StoredMeta.decode(paths.meta.read_bytes())
    except FileNotFoundError:
        return None


def md5_of(path: Path) -> str:
    """The MD5 hex digest of a file (to rebuild lost metadata)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
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


class TempObject:
    """One object being written: a temp file beside its final name and the MD5 so far.

    The temp file is created by the first write (or copy), so a put of one chunk costs
    one trip to a worker thread. ``fsync = False`` skips both fsyncs (throwaway data).
    """

    def __init__(self, paths: ObjectPaths, *, fsync: bool) -> None:
        self.paths = paths
        self.fsync = fsync
        self.digest = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self.modified = 0.0
        self._handle: IO[bytes] | None = None
        self._sidecar: Path | None = None

    @property
    def name(self) -> Path | None:
        """The temp file, once created."""
        return None if self._handle is None else Path(self._handle.name)

    def _open(self) -> IO[bytes]:
        if self._handle is None:
            for _ in range(3):  # a concurrent delete may prune the folder we just made
                self.paths.folder.mkdir(parents=True, exist_ok=True)
                try:
                    self._handle = open(self.paths.temp(), "xb")
                    break
                except FileNotFoundError:
                    continue
            else:
                self._handle = open(self.paths.temp(), "xb")
        return self._handle

    def write(self, chunks: Iterable[bytes], *, hashed: bool = True) -> None:
        """Append ``chunks``; hash them too unless :meth:`hash` does it in another thread."""
        handle = self._open()
        for chunk in chunks:
            handle.write(chunk)
            if hashed:
                self.digest.update(chunk)
            self.size += len(chunk)

    def hash(self, chunks: Iterable[bytes]) -> None:
        """Add ``chunks`` to the MD5 (hashlib releases the GIL for large buffers)."""
        for chunk in chunks:
            self.digest.update(chunk)

    def copy_from(self, source: Path) -> None:
        """Fill the temp file with ``source``'s bytes, in the kernel where it can."""
        handle = self._open()
        with open(source, "rb") as reader:
            size = os.fstat(reader.fileno()).st_size
            try:
                while self.size < size:
                    copied = os.copy_file_range(reader.fileno(), handle.fileno(), size - self.size)
                    if copied == 0:
                        break
                    self.size += copied
            except (AttributeError, OSError) as error:
                if isinstance(error, OSError) and error.errno not in (
                    errno.EXDEV,
                    errno.ENOSYS,
                    errno.EINVAL,
                    errno.EOPNOTSUPP,
                ):
                    raise
                reader.seek(self.size)
                handle.seek(self.size)
                shutil.copyfileobj(reader, handle, COPY_CHUNK)
                self.size = handle.tell()

    def seal(self, content_type: str, etag: str | None = None) -> StoredMeta:
        """Attach the metadata (MD5 so far unless ``etag`` is given) and make it durable.

        Returns what was stored; :attr:`needs_lock` then says whether it went to a sidecar.
        """
        meta = StoredMeta(content_type, etag or self.digest.hexdigest())
        handle = self._open()  # an empty object was never written to
        handle.flush()
        try:
            os.setxattr(handle.fileno(), META_XATTR, meta.encode())
        except OSError as error:
            if error.errno not in NO_XATTR_ERRNOS:
                raise
            self._sidecar = self._write_sidecar(meta)
        if self.fsync:
            os.fsync(handle.fileno())
        self.modified = os.fstat(handle.fileno()).st_mtime
        handle.close()
        return meta

    @property
    def needs_lock(self) -> bool:
        """Whether committing swaps two files (data and sidecar), which must not interleave
        with another commit of the same key; one attributed file swaps atomically alone."""
        return self._sidecar is not None

    def _write_sidecar(self, meta: StoredMeta) -> Path:
        sidecar = self.paths.temp()
        try:
            with open(sidecar, "xb") as handle:
                handle.write(meta.encode())
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
        except BaseException:
            sidecar.unlink(missing_ok=True)
            raise
        return sidecar

    def commit(self) -> None:
        """Rename the sealed temp file over the object, then make the rename durable."""
        temp = self.name
        assert temp is not None, "seal() before commit()"
        try:
            os.replace(temp, self.paths.data)
            if self._sidecar is not None:
                os.replace(self._sidecar, self.paths.meta)
        except BaseException:
            self.discard()
            raise
        if self._sidecar is None:
            # An older sidecar would be ignored (the attribute wins); don't leave it.
            self.paths.meta.unlink(missing_ok=True)
        if self.fsync:
            fsync_folder(self.paths.folder)

    def discard(self) -> None:
        """Close and remove the temp files (after a failure); never raises ``OSError``."""
        for path in (self.name, self._sidecar):
            if path is not None:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
