"""The dashboard's HTML page and its two static assets.

Rendered server-side with Jinja2 (autoescaped), so the page is complete without
JavaScript; the small script only refreshes health. Stylesheet and script are separate
files served by the dashboard itself, which lets the page's Content-Security-Policy forbid
inline code and every other origin.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from rainmaker.patterns.dashboard.snapshot import Snapshot

ASSETS = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def asset(name: str) -> bytes:
    """The bytes of a static asset (``dashboard.css`` or ``dashboard.js``)."""
    if name not in ASSETS:
        raise KeyError(name)
    return (files("rainmaker.patterns.dashboard") / "templates" / name).read_bytes()


@cache
def _template() -> object:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(
        loader=PackageLoader("rainmaker.patterns.dashboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("dashboard.html")


def render_page(snapshot: Snapshot, *, prefix: str, refresh: float) -> str:
    """The dashboard page for ``snapshot``; assets and API are under ``prefix``."""
    from jinja2 import Template

    template = _template()
    assert isinstance(template, Template)
    return template.render(s=snapshot, prefix=prefix, refresh=f"{refresh:g}")
