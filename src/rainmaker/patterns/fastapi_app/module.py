"""The running ``fastapi-app`` module: imports the app it names and hands it to the HTTP app.

What :meth:`FastAPIAppModule.router` returns decides how ``framework-fastapi`` serves it:

- a **FastAPI (or Starlette) app** is returned as it is and mounted as an ASGI
  sub-application under the instance's prefix. Not merged into the composed app, on
  purpose: an app's middleware (``add_middleware``, ``@app.middleware("http")``) wraps only
  that app, and its exception handlers (its own, and FastAPI's default ``{"detail": …}``
  bodies its clients parse) apply only to its routes. Including its router instead would
  either drop both or, copied onto the composed app, apply them to every pattern's routes
  (a legacy ``HTTPException`` handler would replace every problem+json answer).
  ``framework-fastapi`` still records each of its routes as this instance's, so
  ``rainmaker routes``, the access log, ``Inject`` and ``CurrentUser`` know them, and enters
  its lifespan (its ``lifespan=`` or startup/shutdown handlers) with the app itself, so
  ``app.state`` set there is what its routes read. Errors: its handlers (and FastAPI's
  defaults) answer its own errors as before; a Rainmaker ``PatternError`` raised by a
  migrated route (``CurrentUser``'s 401…) gets problem+json like any pattern's; an
  unhandled exception keeps the app's own 500 answer and is logged, with the request id
  and this instance as its route's owner, by the composed app;
- an **APIRouter** (or Starlette ``Router``) is included like any pattern's router: it has
  no middleware or exception handlers of its own, and its lifespan joins the composed app's.

The app is imported relative to the app folder (as local patterns are), once, when the
HTTP app is composed; a reference that does not import, or names something that is not one
of the above, is a composition error naming the cause.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Router

from rainmaker import CompositionError, Health, Module, Problem
from rainmaker.patterns.fastapi_app.settings import FastAPIAppSettings

FIX = (
    "write app = 'module:attribute', the module importable from the app folder and the "
    "attribute a FastAPI app or an APIRouter (as uvicorn names an app)"
)


class FastAPIAppModule(Module[FastAPIAppSettings]):
    """Serves the app ``settings.app`` names (see the module docstring)."""

    _target: Starlette | Router | None = None
    _started = False

    def router(self) -> Starlette | Router:
        """The app or router to serve (imported on the first call)."""
        if self._target is None:
            self._target = self._import()
        return self._target

    def _import(self) -> Starlette | Router:
        reference = self.settings.app
        module_name, _, attribute = reference.partition(":")
        root = str(self.ctx.root)
        # Like local patterns, the app's own modules import from the app folder; it stays
        # on sys.path because the app imports its siblings lazily, on requests too.
        if root not in sys.path:
            sys.path.insert(0, root)
        try:
            target: Any = importlib.import_module(module_name)
        except Exception as exc:  # a syntax error or a failing import in the app is the cause
            raise self._problem(
                f"{reference!r} could not be imported: {type(exc).__name__}: {exc}"
            ) from exc
        for part in attribute.split("."):
            try:
                target = getattr(target, part)
            except AttributeError as exc:
                raise self._problem(
                    f"{reference!r} could not be imported: {type(exc).__name__}: {exc}"
                ) from exc
        if not isinstance(target, Starlette | Router):
            kind = "an ASGI app Rainmaker cannot mount" if callable(target) else "not an app"
            raise self._problem(
                f"{reference!r} is a {type(target).__name__}, {kind}: fastapi-app serves a "
                "FastAPI or Starlette app, or an APIRouter or Starlette Router (wrap another "
                "ASGI app in Starlette(routes=[Mount('/', app=...)]))"
            )
        return target

    def _problem(self, message: str) -> CompositionError:
        return CompositionError(
            [
                Problem(
                    message,
                    instance=self.ctx.instance,
                    key="app",
                    value=repr(self.settings.app),
                    fix=FIX,
                )
            ]
        )

    async def start(self) -> None:
        """Nothing to acquire: the HTTP app mounts the app and runs its lifespan."""
        self._started = True

    async def stop(self) -> None:
        """Nothing to release (the HTTP app runs the app's shutdown)."""
        self._started = False

    async def health(self) -> Health:
        """Up while started; the HTTP app's start runs the app's lifespan, so a failing
        startup fails the app's start instead of reporting here."""
        if not self._started:
            return Health.down(reason="not started")
        kind = type(self._target).__name__ if self._target is not None else "not composed"
        return Health.up(app=self.settings.app, kind=kind)
