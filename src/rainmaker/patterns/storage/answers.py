"""The JSON bodies of the storage routes, as models: what their OpenAPI declares."""

from __future__ import annotations

from pydantic import BaseModel

from rainmaker.http import UtcTimestamp


class StoredObject(BaseModel):
    """A stored object's metadata (``ObjectInfo.as_dict()``), the answer to an upload."""

    key: str
    size: int
    content_type: str | None
    etag: str
    last_modified: UtcTimestamp | None
