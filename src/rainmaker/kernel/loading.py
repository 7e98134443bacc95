"""``load()``: from a composition file to a ready-to-start :class:`Application`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from rainmaker.kernel.application import Application
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import Composition, find_composition, read_composition
from rainmaker.kernel.errors import CompositionError
from rainmaker.kernel.resolution import resolve
from rainmaker.kernel.validation import validate_instances


def load(
    app: str | os.PathLike[str] | None = None,
    *,
    profile: str | None = None,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
    catalog: Catalog | None = None,
    configure_logs: bool = True,
) -> Application:
    """Read, validate and resolve a composition; return the (not yet started) app.

    ``app`` is a ``rainmaker.toml`` or the folder holding one (default: the current
    folder); ``profile`` defaults to ``$RAINMAKER_PROFILE`` then ``"development"``;
    ``overrides`` are ``instance.key=value`` strings like ``--set``. Every problem found is
    raised at once in a :class:`CompositionError`. The result is an ASGI application.
    """
    composition = read_composition(
        find_composition(app), profile=profile, environ=environ, overrides=overrides
    )
    application = assemble(composition, catalog)
    if configure_logs:
        application.configure_logging()
    return application


def assemble(composition: Composition, catalog: Catalog | None = None) -> Application:
    """Validate ``composition`` against the catalog and resolve it into an app.

    Raises :class:`CompositionError` with the composition's own problems and every problem
    found in validation and resolution, all at once.
    """
    if catalog is None:
        catalog = Catalog.installed()
    elif composition.app.local_patterns:
        # The app's own patterns join a copy: the caller's catalog may serve other apps.
        catalog = catalog.copy()
    catalog.add_local(composition.app.local_patterns, composition.root)
    instances, problems = validate_instances(composition, catalog)
    order, resolution_problems = resolve(instances, catalog)
    problems = composition.problems + problems + resolution_problems
    if problems:
        raise CompositionError(problems)
    return Application(composition, catalog, instances, order)
