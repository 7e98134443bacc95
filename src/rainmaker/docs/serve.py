"""Serving the built site: the standard library's file server, bound to one interface."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves the site folder without a log line per file on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def site_server(folder: Path, host: str, port: int) -> Iterator[ThreadingHTTPServer]:
    """A server for ``folder`` on ``host:port`` (port 0: any free one), closed on exit."""
    handler = partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer((host, port), handler)
    try:
        yield server
    finally:
        server.server_close()
