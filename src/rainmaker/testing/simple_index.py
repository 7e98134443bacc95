"""Reading a PEP 503 simple index: a page's links, and a file's body by URL.

``rainmaker pattern publish`` reads an index to compare a release with the latest one
there, and ``rainmaker patterns --available`` to list what it offers; both read the same
way: ``file://`` folders (a folder serves its ``index.html``, as ``pattern publish --to``
writes them) and ``http(s)://`` indexes.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

FETCH_TIMEOUT = 30.0


class IndexReadError(Exception):
    """The index could not be read: the message says where and what to check."""


def fetch(url: str) -> bytes | None:
    """The body at ``url`` (``None``: not found); a ``file:`` folder serves its index.html."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = Path(urllib.request.url2pathname(parts.path))
        if path.is_dir():
            path = path / "index.html"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexReadError(f"cannot read {path}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise IndexReadError(f"cannot read {url}: only http(s) and file: indexes are supported")
    request = urllib.request.Request(url, headers={"Accept": "text/html"})  # noqa: S310 - http(s)
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:  # noqa: S310
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 410):
            return None
        raise IndexReadError(f"the index answered {url} with HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise IndexReadError(
            f"cannot reach the index at {url} ({reason}); check the URL or the network"
        ) from None


class _Links(HTMLParser):
    """The ``href`` of every ``<a>`` on a simple index page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if href:
            self.hrefs.append(href)


def links(page: bytes) -> list[str]:
    """Every link of an index page, in page order."""
    parser = _Links()
    parser.feed(page.decode("utf-8", errors="replace"))
    return parser.hrefs
