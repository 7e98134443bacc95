"""The API explorer (Swagger UI) served from the installed package: no CDN, a strict CSP.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script,
so it is blank offline and under a ``script-src 'self'`` policy. This page serves the
files of the ``swagger-ui-bundle-v2`` wheel (Swagger UI, Apache-2.0, its licence in the
wheel) beside itself and starts the UI from a small script file of its own, which reads
the document's URL from a data attribute: nothing inline, nothing from elsewhere.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI, HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

#: The page's policy, the dashboard's own: every script, style and image from this server,
#: nothing inline (the browser test renders the UI under it with no violation).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

#: The Swagger UI files the page uses, by the name served under the docs URL.
ASSETS = (
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "oauth2-redirect.js",
    "favicon-32x32.png",
)
INITIALIZER = "swagger-initializer.js"
"""Our start-up script's name (the wheel's own points at the petstore example)."""

_INITIALIZER_SOURCE = """\
// Starts Swagger UI on the document named by the page (no inline script: see the CSP).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    oauth2RedirectUrl: new URL(root.dataset.oauth2RedirectUrl, window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});
"""

_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}


def swagger_ui_directory() -> Path:
    """Where the installed wheel keeps Swagger UI's files."""
    # The http extra's dependency (no type information); imported when docs are served.
    import swagger_ui_bundle  # type: ignore[import-untyped]

    return Path(swagger_ui_bundle.swagger_ui_path)


def page_html(*, title: str, docs_url: str, openapi_url: str) -> str:
    """The docs page: Swagger UI's files and our initializer, all beside ``docs_url``."""
    base = html.escape(docs_url, quote=True)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} - API</title>
<link rel="icon" type="image/png" href="{base}/favicon-32x32.png">
<link rel="stylesheet" href="{base}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{html.escape(openapi_url, quote=True)}"
     data-oauth2-redirect-url="{base}/oauth2-redirect"></div>
<script src="{base}/swagger-ui-bundle.js"></script>
<script src="{base}/{INITIALIZER}"></script>
</body>
</html>
"""


def install_docs_page(app: FastAPI, *, docs_url: str, openapi_url: str) -> None:
    """Serve the page at ``docs_url``, its files and the OAuth2 redirect page beside it."""
    directory = swagger_ui_directory()
    page = page_html(title=app.title, docs_url=docs_url, openapi_url=openapi_url)

    async def docs(request: Request) -> Response:
        # Relative to where the app is mounted (root_path), as FastAPI's own page does.
        root = request.scope.get("root_path", "").rstrip("/")
        body = page if not root else page_html(
            title=app.title, docs_url=root + docs_url, openapi_url=root + openapi_url
        )
        return HTMLResponse(body, headers=_HEADERS)

    async def oauth2_redirect() -> Response:
        return FileResponse(directory / "oauth2-redirect.html", headers=_HEADERS)

    async def asset(name: str) -> Response:
        if name == INITIALIZER:
            return Response(_INITIALIZER_SOURCE, media_type="text/javascript", headers=_HEADERS)
        if name not in ASSETS:
            raise HTTPException(404, f"No docs asset named {name}")
        return FileResponse(directory / name, headers={"Cache-Control": "public, max-age=86400"})

    app.add_api_route(docs_url, docs, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        f"{docs_url}/oauth2-redirect", oauth2_redirect, methods=["GET"], include_in_schema=False
    )
    app.add_api_route(f"{docs_url}/{{name}}", asset, methods=["GET"], include_in_schema=False)
