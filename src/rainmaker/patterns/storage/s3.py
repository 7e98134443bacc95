"""``S3ObjectStore``: objects in a bucket of any S3-compatible server, through aioboto3.

Large objects go up as multipart uploads: the stream is cut into ``part_size`` parts, up
to ``upload_concurrency`` of them in flight, and any failure (including the size limit or
a cancelled request) aborts the upload, so S3 never shows a half-written object and keeps
no orphaned parts. Objects smaller than one part go up in a single ``PutObject``.

Every botocore failure is translated in one place (:meth:`S3ObjectStore.translate`): a
missing key becomes ``NotFoundError``, refused credentials ``StorageCredentialsError``,
an unreachable or failing server ``UnavailableError`` naming the endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from rainmaker import InvalidInputError, NotFoundError, PatternError, UnavailableError
from rainmaker.capabilities.storage import (
    Body,
    ObjectInfo,
    ObjectPage,
    ObjectReader,
    ObjectSummary,
    SignedMethod,
)
from rainmaker.patterns.storage.errors import StorageCredentialsError
from rainmaker.patterns.storage.keys import validate_key, validate_listing, validate_signing
from rainmaker.patterns.storage.policy import UploadPolicy

_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
_REFUSED = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "403",
    "InvalidToken",
    "ExpiredToken",
}


class S3ObjectStore:
    """The ``Storage`` service of ``storage-s3``; ``client`` is an open aiobotocore client."""

    def __init__(
        self,
        client: Any,
        *,
        bucket: str,
        endpoint: str,
        instance: str,
        policy: UploadPolicy,
        part_size: int,
        upload_concurrency: int,
        url_expiry: float,
        chunk_size: int,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.endpoint = endpoint
        self._instance = instance
        self.policy = policy
        self.part_size = part_size
        self.upload_concurrency = upload_concurrency
        self.url_expiry = url_expiry
        self.chunk_size = chunk_size

    @property
    def instance(self) -> str:
        return self._instance

    # -- errors ----------------------------------------------------------------------------

    def translate(self, error: BaseException, *, action: str, key: str | None = None) -> Exception:
        """The Rainmaker error for a botocore/aiohttp failure during ``action``."""
        where = f"S3 at {self.endpoint} (bucket {self.bucket!r})"
        if isinstance(error, PatternError):
            return error
        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if key is not None and (code in _MISSING_KEY or status == 404):
                return NotFoundError(
                    f"no object stored under key {key!r}", pattern_id=self._instance
                )
            if code == "NoSuchBucket":
                return UnavailableError(
                    f"{where}: the bucket does not exist (while trying to {action})",
                    pattern_id=self._instance,
                    hint="create it, or set create_bucket = true",
                    cause=error,
                )
            if code in _REFUSED or status == 403:
                return StorageCredentialsError(
                    f"{where} refused our credentials ({code}) while trying to {action}",
                    pattern_id=self._instance,
                    hint="check access_key and secret_key (and the key's rights on the bucket)",
                    cause=error,
                )
            if code == "EntityTooLarge":
                return self.policy.too_large()
            return UnavailableError(
                f"{where} failed to {action}: {code or status} "
                f"{error.response.get('Error', {}).get('Message', '')}".rstrip(),
                pattern_id=self._instance,
                cause=error,
            )
        if isinstance(error, NoCredentialsError):
            return StorageCredentialsError(
                f"no credentials to sign requests to {where}",
                pattern_id=self._instance,
                hint="set access_key and secret_key, or configure the AWS credential chain",
                cause=error,
            )
        if isinstance(error, BotoConnectionError | HTTPClientError | BotoCoreError | OSError):
            return UnavailableError(
                f"{where} is unreachable while trying to {action}: {error}",
                pattern_id=self._instance,
                hint="check that the server is running and endpoint_url is right; "
                "requests succeed again as soon as it is back",
                cause=error,
            )
        if isinstance(error, asyncio.TimeoutError):
            return UnavailableError(
                f"{where} did not answer in time while trying to {action}",
                pattern_id=self._instance,
                cause=error,
            )
        if type(error).__module__.startswith("aiohttp"):
            return UnavailableError(
                f"{where} broke the connection while trying to {action}: "
                f"{type(error).__name__}: {error}",
                pattern_id=self._instance,
                cause=error,
            )
        return error if isinstance(error, Exception) else RuntimeError(str(error))

    @contextlib.contextmanager
    def _translated(self, action: str, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except Exception as error:
            translated = self.translate(error, action=action, key=key)
            if translated is error:
                raise
            raise translated from error

    # -- lifecycle helpers -----------------------------------------------------------------

    async def check_bucket(self, *, create: bool, region: str) -> None:
        """Make sure the bucket is usable: it exists (or is created) and our keys work."""
        try:
            with self._translated("check the bucket"):
                await self.client.head_bucket(Bucket=self.bucket)
            return
        except UnavailableError as error:
            cause = error.cause
            missing = (
                isinstance(cause, ClientError)
                and cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
            )
            if not missing:
                raise
        if not create:
            raise UnavailableError(
                f"bucket {self.bucket!r} does not exist at {self.endpoint}",
                pattern_id=self._instance,
                hint="create it, or set create_bucket = true",
            )
        params: dict[str, Any] = {"Bucket": self.bucket}
        if region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with self._translated("create the bucket"):
            try:
                await self.client.create_bucket(**params)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    # -- writing ---------------------------------------------------------------------------

    async def put(self, key: str, data: Body, *, content_type: str | None = None) -> ObjectInfo:
        """Single ``PutObject`` under one part, multipart above (aborted on any failure)."""
        validate_key(key, pattern_id=self._instance)
        chosen = self.policy.content_type_for(key, content_type)
        # Chunks wait in a list and are joined once per part: one copy of each byte,
        # where slicing a growing bytearray would make three.
        pending: list[bytes] = []
        pending_size = 0
        upload = _MultipartUpload(self, key, chosen)
        try:
            async for chunk in self.policy.limited(data):
                pending.append(chunk)
                pending_size += len(chunk)
                while pending_size >= self.part_size:
                    joined = b"".join(pending)
                    pending.clear()
                    part, rest = joined[: self.part_size], joined[self.part_size :]
                    del joined
                    if rest:
                        pending.append(rest)
                    pending_size = len(rest)
                    await upload.send(part)
                    del part, rest
            body = b"".join(pending)
            pending.clear()
            if not upload.started:
                with self._translated("upload an object", None):
                    answer = await self.client.put_object(
                        Bucket=self.bucket, Key=key, Body=body, ContentType=chosen
                    )
                return ObjectInfo(key, len(body), chosen, _etag(answer["ETag"]))
            if body:
                await upload.send(body)
            del body
            etag = await upload.complete()
            return ObjectInfo(key, upload.size, chosen, etag)
        except BaseException:
            await upload.abort()
            raise

    async def copy(self, source: str, destination: str) -> ObjectInfo:
        """Server-side ``CopyObject`` (up to 5 GB, S3's limit for one copy)."""
        validate_key(source, pattern_id=self._instance)
        validate_key(destination, pattern_id=self._instance)
        with self._translated("copy an object", source):
            await self.client.copy_object(
                Bucket=self.bucket,
                Key=destination,
                CopySource={"Bucket": self.bucket, "Key": source},
                MetadataDirective="COPY",
            )
        return await self.head(destination)

    async def delete(self, key: str) -> None:
        """``DeleteObject``; S3 answers success for a missing key too."""
        validate_key(key, pattern_id=self._instance)
        with self._translated("delete an object"):
            await self.client.delete_object(Bucket=self.bucket, Key=key)

    # -- reading ---------------------------------------------------------------------------

    async def head(self, key: str) -> ObjectInfo:
        """``HeadObject``."""
        validate_key(key, pattern_id=self._instance)
        with self._translated("read an object's metadata", key):
            answer = await self.client.head_object(Bucket=self.bucket, Key=key)
        return _info(key, answer)

    async def exists(self, key: str) -> bool:
        """``HeadObject``, with a 404 meaning no."""
        try:
            await self.head(key)
        except NotFoundError:
            return False
        return True

    async def get(self, key: str, *, chunk_size: int | None = None) -> ObjectReader:
        """``GetObject``; the body streams from the open connection chunk by chunk."""
        validate_key(key, pattern_id=self._instance)
        size = chunk_size or self.chunk_size
        with self._translated("download an object", key):
            answer = await self.client.get_object(Bucket=self.bucket, Key=key)
        body = answer["Body"]
        info = _info(key, answer)

        async def chunks() -> AsyncIterator[bytes]:
            # Stop at ContentLength rather than after one more read to find the end: an
            # object of one chunk then takes one read from the stream, not two.
            left = info.size
            while left > 0:
                with self._translated("download an object", key):
                    chunk = await body.read(size)
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

        async def close() -> None:
            body.close()

        return ObjectReader(info, chunks(), close)

    async def list(
        self, prefix: str = "", *, cursor: str | None = None, limit: int = 1000
    ) -> ObjectPage:
        """``ListObjectsV2``; the cursor is S3's continuation token."""
        validate_listing(prefix, limit, pattern_id=self._instance)
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": limit}
        if cursor:
            params["ContinuationToken"] = cursor
        with self._translated("list objects"):
            try:
                answer = await self.client.list_objects_v2(**params)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "InvalidArgument" and cursor:
                    raise InvalidInputError(
                        f"listing cursor {cursor[:40]!r} is not valid",
                        pattern_id=self._instance,
                        hint="pass back the cursor of the previous page unchanged",
                    ) from error
                raise
        items = [
            ObjectSummary(
                key=item["Key"],
                size=int(item["Size"]),
                etag=_etag(item.get("ETag", "")),
                last_modified=item.get("LastModified"),
            )
            for item in answer.get("Contents", [])
        ]
        token = answer.get("NextContinuationToken") if answer.get("IsTruncated") else None
        return ObjectPage(items, token)

    # -- signed URLs -----------------------------------------------------------------------

    async def signed_url(
        self,
        key: str,
        *,
        method: SignedMethod = "GET",
        expires_in: float | None = None,
        content_type: str | None = None,
    ) -> str:
        """An S3 presigned URL (SigV4, checked by the server itself)."""
        validate_signing(key, method, pattern_id=self._instance)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        operation = "get_object" if method == "GET" else "put_object"
        if method == "PUT" and content_type is not None:
            params["ContentType"] = self.policy.content_type_for(key, content_type)
        seconds = self.url_expiry if expires_in is None else expires_in
        with self._translated("sign a URL"):
            url: str = await self.client.generate_presigned_url(
                operation, Params=params, ExpiresIn=max(1, int(seconds))
            )
        return url


class _MultipartUpload:
    """One multipart upload: parts sent concurrently, completed in order, or aborted."""

    def __init__(self, store: S3ObjectStore, key: str, content_type: str) -> None:
        self.store = store
        self.key = key
        self.content_type = content_type
        self.upload_id: str | None = None
        self.size = 0
        self._tasks: dict[int, asyncio.Task[str]] = {}
        self._slots = asyncio.Semaphore(store.upload_concurrency)

    @property
    def started(self) -> bool:
        return self.upload_id is not None

    async def send(self, part: bytes) -> None:
        """Start uploading the next part; waits while ``upload_concurrency`` are in flight."""
        store = self.store
        if self.upload_id is None:
            with store._translated("start a multipart upload"):
                answer = await store.client.create_multipart_upload(
                    Bucket=store.bucket, Key=self.key, ContentType=self.content_type
                )
            self.upload_id = answer["UploadId"]
        await self._slots.acquire()
        self._raise_failed()
        number = len(self._tasks) + 1
        self.size += len(part)
        self._tasks[number] = asyncio.create_task(self._upload_part(number, part))

    async def _upload_part(self, number: int, part: bytes) -> str:
        store = self.store
        try:
            with store._translated(f"upload part {number} of a multipart upload"):
                answer = await store.client.upload_part(
                    Bucket=store.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    PartNumber=number,
                    Body=part,
                )
            return str(answer["ETag"])
        finally:
            self._slots.release()

    def _raise_failed(self) -> None:
        for task in self._tasks.values():
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def complete(self) -> str:
        """Wait for every part and complete the upload; returns the object's etag."""
        store = self.store
        etags = await asyncio.gather(*self._tasks.values())
        parts = [
            {"PartNumber": number, "ETag": etag}
            for number, etag in zip(self._tasks, etags, strict=True)
        ]
        with store._translated("complete a multipart upload"):
            answer = await store.client.complete_multipart_upload(
                Bucket=store.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": parts},
            )
        self.upload_id = None  # completed: nothing to abort any more
        return _etag(answer["ETag"])

    async def abort(self) -> None:
        """Cancel parts in flight and abort the upload so no parts linger. Never raises."""
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(BaseException):
                await task
        if self.upload_id is None:
            return
        store, upload_id = self.store, self.upload_id
        self.upload_id = None
        # Shielded: the abort must reach the server even when our caller was cancelled.
        with contextlib.suppress(BaseException):
            await asyncio.shield(
                store.client.abort_multipart_upload(
                    Bucket=store.bucket, Key=self.key, UploadId=upload_id
                )
            )


def _etag(value: str) -> str:
    return value.strip('"')


def _info(key: str, answer: dict[str, Any]) -> ObjectInfo:
    modified = answer.get("LastModified")
    return ObjectInfo(
        key=key,
        size=int(answer["ContentLength"]),
        content_type=str(answer.get("ContentType") or "application/octet-stream"),
        etag=_etag(str(answer.get("ETag", ""))),
        last_modified=modified if isinstance(modified, datetime) else None,
    )
