"""Settings of the storage patterns (the ``[patterns.<storage>]`` table)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from rainmaker import Settings

MIB = 1024 * 1024


class StorageSettings(Settings):
    """Settings both storage patterns share."""

    max_size: int = Field(
        100 * 1024 * MIB,
        gt=0,
        description="Largest object accepted, in bytes (default 100 GiB); larger uploads get "
        "413 and nothing is stored.",
    )
    allowed_content_types: list[str] = Field(
        default_factory=list,
        description="Content types that may be stored, e.g. ['image/*', 'application/pdf']; "
        "empty allows any.",
    )
    routes: bool = Field(
        False,
        description="Mount POST <mount> (multipart upload) and GET <mount>/{key} (download). "
        "They are public: put them behind your own auth or a gateway.",
    )
    url_expiry: float = Field(
        3600.0,
        gt=0,
        le=604800,
        description="Seconds a signed URL stays valid when the caller gives no expiry "
        "(at most 7 days, S3's own limit).",
    )
    chunk_size: int = Field(
        256 * 1024,
        ge=1024,
        description="Bytes per chunk when streaming an object out.",
    )


class LocalStorageSettings(StorageSettings):
    """Settings of ``storage-local``: objects in a folder on this machine."""

    root: str = Field(
        "storage",
        min_length=1,
        description="Folder holding the objects; a relative path is resolved against the "
        "app's folder (where rainmaker.toml is). Created at start.",
    )
    signing_secret: SecretStr | None = Field(
        None,
        min_length=32,
        description="HMAC key for signed URLs (at least 32 characters, e.g. "
        "'${STORAGE_SIGNING_SECRET}'). Without one, a random key is made at start and signed "
        "URLs stop working on restart and are not shared between workers.",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="Base URL clients reach the app at, e.g. 'https://api.example.com', "
        "prefixed to signed URLs; without it they are relative to the app ('/files/...').",
    )
    fsync: bool = Field(
        True,
        description="fsync each object before it replaces the old one, so a crash never "
        "leaves a torn file (turn off only for throwaway data).",
    )
    min_free_space: int = Field(
        100 * MIB,
        ge=0,
        description="Bytes that must stay free on the file system holding the root; below "
        "it health reports degraded (default 100 MiB; 0 turns the check off). A full disk "
        "answers writes with 507.",
    )


class S3StorageSettings(StorageSettings):
    """Settings of ``storage-s3``: objects in a bucket of any S3-compatible server."""

    bucket: str = Field(
        min_length=3,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$",
        description="Bucket holding the objects.",
    )
    endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+$",
        description="Server URL for S3-compatible servers (SeaweedFS, MinIO, R2…), e.g. "
        "'http://127.0.0.1:8333'; None means AWS S3.",
    )
    region: str = Field("us-east-1", description="Region to sign requests for.")
    access_key: SecretStr | None = Field(
        None,
        description="Access key id; None uses the default AWS credential chain "
        "(environment, profile, instance role).",
    )
    secret_key: SecretStr | None = Field(
        None, description="Secret access key that goes with access_key."
    )
    path_style: bool = Field(
        False,
        description="Address buckets as <endpoint>/<bucket> instead of <bucket>.<endpoint>; "
        "most self-hosted servers need this.",
    )
    create_bucket: bool = Field(
        False, description="Create the bucket at start when it does not exist."
    )
    part_size: int = Field(
        8 * MIB,
        ge=5 * MIB,
        le=5 * 1024 * MIB,
        description="Objects larger than this are uploaded in parts of this many bytes "
        "(S3 needs at least 5 MiB). One upload holds about (2 x upload_concurrency + 1) "
        "parts in memory, whatever the object's size.",
    )
    upload_concurrency: int = Field(
        2, ge=1, le=64, description="Parts of one multipart upload sent at the same time."
    )
    connect_timeout: float = Field(
        5.0, gt=0, description="Seconds to wait for a connection to the server."
    )
    read_timeout: float = Field(
        30.0, gt=0, description="Seconds to wait for the server to answer or send more data."
    )
    max_attempts: int = Field(
        2,
        ge=1,
        le=10,
        description="Attempts per request (first try included) on errors worth retrying.",
    )
