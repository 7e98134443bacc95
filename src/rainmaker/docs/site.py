"""Building the static site: a page per pattern, the composition, the guides, ``.env.example``.

Why Jinja2 templates rather than a site generator: the pages are generated from Python
objects (settings models, the resolved composition, OpenAPI), which a Markdown site tool
would need a plugin to reach; MkDocs and Sphinx also write build dates or environment
pickles, so their output is not byte-identical from one build to the next, and their themes
pull JavaScript. Jinja2 is small, well kept, already used by the email patterns, and
autoescapes everything it renders. Pages link to each other relatively, so the folder
works from ``file://`` as well as from ``rainmaker docs serve``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rainmaker.docs.guides import guide_files, render_guide, render_markdown
from rainmaker.docs.migrations_doc import RevisionDoc, revisions_of
from rainmaker.docs.openapi_routes import RouteDoc, openapi_document, openapi_routes
from rainmaker.docs.reference import reference_pages
from rainmaker.docs.sample_app import sample_application
from rainmaker.docs.settings_reference import SettingRow, settings_rows
from rainmaker.kernel.application import Application
from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import read_composition
from rainmaker.kernel.display import display
from rainmaker.kernel.env_example import env_example
from rainmaker.kernel.graph_svg import dependency_svg, graph_of
from rainmaker.kernel.pattern import Pattern
from rainmaker.testing.harness import toml_value

MARKER = ".rainmaker-docs"
"""Written into the output folder; only a folder holding it is ever emptied by a rebuild."""


class OutputFolderError(Exception):
    """The output folder holds files this generator did not write."""


@dataclass
class PatternPage:
    """What one pattern's page shows."""

    pattern: Pattern[Any]
    origin: str
    settings: list[SettingRow]
    instances: list[str]
    routes: list[RouteDoc]
    routes_note: str
    revisions: list[RevisionDoc]
    revisions_note: str
    examples: list[str]
    jobs: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)
    """``(title, html)`` of each section the pattern declares (``Pattern.docs``)."""

    @property
    def file(self) -> str:
        return f"patterns/{self.pattern.id}.html"


@dataclass
class CompositionPage:
    """What the composition page shows (all secrets redacted)."""

    name: str
    profile: str
    profiles: list[str]
    graph_svg: str
    order: list[dict[str, str]]
    routes: list[dict[str, str]]
    routes_note: str
    settings: list[dict[str, str]]
    env_vars: list[tuple[str, str]]
    env_example: str


def build_site(
    out: Path,
    *,
    application: Application | None = None,
    catalog: Catalog | None = None,
    guides: Path | None = None,
) -> list[Path]:
    """Write the site into ``out``; the files written, sorted.

    ``application`` (validated, not started) adds the composition page and ``.env.example``
    and documents its local patterns; ``catalog`` defaults to the app's (installed plus
    local patterns) or the installed one; ``guides`` is a folder of ``*.md`` guides.
    Raises :class:`OutputFolderError` rather than delete files it did not write.
    """
    from jinja2 import Environment, PackageLoader, StrictUndefined

    if catalog is None:
        catalog = application.catalog if application is not None else Catalog.installed()
    composition = _composition_page(application) if application is not None else None
    app_routes = _routes_by_instance(application) if application is not None else ({}, "")
    pages = [_pattern_page(p, catalog, application, app_routes) for p in catalog]
    guide_pages = [render_guide(path) for path in guide_files(guides)] if guides else []
    reference = reference_pages()  # the public modules, from their docstrings

    environment = Environment(
        loader=PackageLoader("rainmaker.docs", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    common: dict[str, Any] = {
        "composition": composition,
        "patterns": pages,
        "guides": guide_pages,
        "reference": reference,
        "problems": sorted(str(problem) for problem in catalog.problems),
    }
    files: dict[str, str] = {
        "index.html": environment.get_template("index.html").render(root="", **common),
        "style.css": environment.get_template("style.css").render(),
    }
    for page in pages:
        files[page.file] = environment.get_template("pattern.html").render(
            root="../", page=page, **common
        )
    for guide in guide_pages:
        files[f"guides/{guide.name}.html"] = environment.get_template("guide.html").render(
            root="../", guide=guide, **common
        )
    files["reference/index.html"] = environment.get_template("reference_index.html").render(
        root="../", **common
    )
    for module in reference:
        files[module.file] = environment.get_template("reference.html").render(
            root="../", module=module, **common
        )
    if composition is not None:
        files["composition.html"] = environment.get_template("composition.html").render(
            root="", **common
        )
        files[".env.example"] = composition.env_example
    return _write(out, files)


def _write(out: Path, files: dict[str, str]) -> list[Path]:
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise OutputFolderError(
            f"{out} is not empty and was not written by `rainmaker docs build`; "
            "choose an empty or new folder with --out"
        )
    if out.exists():
        # A rebuild starts clean, so pages of patterns since removed do not linger.
        shutil.rmtree(out)
    written = []
    for relative, text in sorted({**files, MARKER: "rainmaker docs build\n"}.items()):
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        written.append(path)
    return sorted(written)


def _routes_by_instance(application: Application) -> tuple[dict[str, list[RouteDoc]], str]:
    try:
        document = openapi_document(application)
    except Exception as exc:
        return {}, f"the routes could not be read: {exc}"
    if document is None:
        return {}, "the HTTP framework of this app publishes no OpenAPI document"
    routes: dict[str, list[RouteDoc]] = {}
    for route in openapi_routes(document):
        routes.setdefault(route.instance, []).append(route)
    return routes, ""


def _pattern_page(
    pattern: Pattern[Any],
    catalog: Catalog,
    application: Application | None,
    app_routes: tuple[dict[str, list[RouteDoc]], str],
) -> PatternPage:
    instances = (
        [i.name for i in application.instances.values() if i.pattern is pattern]
        if application is not None
        else []
    )
    if instances:
        by_instance, routes_note = app_routes
        routes = [route for name in instances for route in by_instance.get(name, [])]
        if not routes and not routes_note:
            routes_note = "no routes in this app's composition"
    else:
        routes, routes_note = _sample_routes(pattern, catalog)
    revisions, revisions_note = revisions_of(pattern)
    return PatternPage(
        pattern=pattern,
        origin=catalog.origins.get(pattern.id, ""),
        # One instance: name its variables; several or none: the placeholder.
        settings=settings_rows(pattern.settings, instances[0] if len(instances) == 1 else None),
        instances=instances,
        routes=routes,
        routes_note=routes_note,
        revisions=revisions,
        revisions_note=revisions_note,
        examples=[_example_toml(pattern, example) for example in pattern.examples],
        # Seams for the jobs pattern's declarations (not yet part of Pattern): shown when
        # a pattern carries them, as anything with a readable str().
        jobs=[str(job) for job in getattr(pattern, "jobs", ())],
        events=[str(event) for event in getattr(pattern, "events", ())],
        sections=[(section.title, render_markdown(section.markdown)) for section in pattern.docs],
    )


def _sample_routes(pattern: Pattern[Any], catalog: Catalog) -> tuple[list[RouteDoc], str]:
    """The pattern's routes in a sample app, with the example that mounts the most."""
    best: list[RouteDoc] = []
    problem = ""
    for example in range(max(len(pattern.examples), 1)):
        try:
            document = openapi_document(sample_application(pattern, catalog, example))
        except Exception as exc:
            problem = f"not composable from its examples here: {exc}"
            continue
        own = [r for r in openapi_routes(document or {}) if r.instance == pattern.id]
        if len(own) > len(best):
            best = own
    if best:
        return best, "with the settings of its examples; the prefix follows `mount`"
    return [], problem or "none"


def _example_toml(pattern: Pattern[Any], example: Iterable[tuple[str, Any]] | Any) -> str:
    instance = pattern.id.split("-")[0]
    lines = [f"[patterns.{instance}]", f"use = {toml_value(pattern.id)}"]
    lines += [f"{key} = {toml_value(value)}" for key, value in dict(example).items()]
    return "\n".join(lines)


def _composition_page(application: Application) -> CompositionPage:
    composition = application.composition
    application.build()
    nodes, edges = graph_of(application)
    routes_note = ""
    routes: list[dict[str, str]] = []
    try:
        listing = getattr(application.http_module(), "routes", None)
        for row in listing() if listing is not None else []:
            routes.append(
                {
                    "methods": ",".join(row.methods),
                    "path": row.path,
                    "instance": row.instance,
                    "pattern": row.pattern,
                    "auth": row.auth,
                }
            )
    except Exception as exc:
        routes_note = f"the routes could not be listed: {exc}"
    settings = [
        {
            "instance": instance.name,
            "key": key,
            "value": display(type(instance.settings), key, value),
            "source": source,
        }
        for instance in application.instances.values()
        for key, value, source in instance.settings_with_sources()
    ]
    referenced = dict(composition.env_vars)
    if composition.path is not None:
        for profile in composition.profiles:
            other = read_composition(composition.path, profile=profile, environ={})
            referenced |= other.env_vars
    return CompositionPage(
        name=application.name,
        profile=composition.profile,
        profiles=composition.profiles,
        graph_svg=dependency_svg(nodes, edges, title=f"{application.name}: dependency graph"),
        order=[
            {
                "instance": instance.name,
                "pattern": instance.pattern.id,
                "version": instance.pattern.version,
                "provides": ", ".join(str(p) for p in instance.pattern.provisions),
                "uses": ", ".join(f"{c} → {n}" for c, n in sorted(instance.bindings.items())),
                "prefix": instance.prefix,
            }
            for instance in application.instances.values()
        ],
        routes=routes,
        routes_note=routes_note,
        settings=settings,
        env_vars=[
            (name, "required" if default is None else f"default {json.dumps(default)}")
            for name, default in sorted(referenced.items())
        ],
        env_example=env_example(
            application.name,
            [(i.name, type(i.settings)) for i in application.instances.values()],
            referenced,
        ),
    )
