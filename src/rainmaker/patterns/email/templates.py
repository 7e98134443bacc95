"""Email templates: Jinja2 files an app overrides one file at a time.

A template ``<name>`` is up to three files: ``<name>.subject.txt`` (required), ``<name>.txt``
and ``<name>.html`` (at least one). Each file is looked up first in the app's templates
folder and then in ``<package>/templates/email/``, so an app can restyle a pattern's HTML
and keep its text part. HTML is autoescaped (context values cannot inject markup) and an
undefined variable is an error: a half-rendered email is worse than none.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from rainmaker.capabilities.mailer import (
    RenderedTemplate,
    TemplateNotFoundError,
    TemplateRenderError,
)

OWN_PACKAGE = "rainmaker.patterns.email"
PACKAGE_FOLDER = "templates/email"
PARTS = ("subject.txt", "txt", "html")


class TemplateRenderer:
    """Renders templates for one mailer instance; one Jinja2 environment per package.

    ``app_dir`` is the app's templates folder (or ``None``). Building a renderer does no
    I/O; environments are created on first use and cached (Jinja2 caches compiled
    templates and reloads them when their file changes).
    """

    def __init__(self, app_dir: Path | None, *, instance: str) -> None:
        self.app_dir = app_dir
        self.instance = instance
        self._environments: dict[str, jinja2.Environment] = {}

    def render(
        self, name: str, context: Mapping[str, Any] | None = None, *, package: str | None = None
    ) -> RenderedTemplate:
        """Render template ``name`` of ``package`` (default: the email pattern's own)."""
        package = package or OWN_PACKAGE
        environment = self._environment(package)
        values = dict(context or {})
        parts: dict[str, str | None] = {}
        for part in PARTS:
            filename = f"{name}.{part}"
            try:
                template = environment.get_template(filename)
            except jinja2.TemplateNotFound:
                parts[part] = None
                continue
            except jinja2.TemplateSyntaxError as error:
                raise TemplateRenderError(
                    f"email template {filename!r} has a syntax error on line {error.lineno}: "
                    f"{error.message}",
                    pattern_id=self.instance,
                    cause=error,
                ) from error
            try:
                parts[part] = template.render(values)
            except jinja2.UndefinedError as error:
                raise TemplateRenderError(
                    f"email template {filename!r}: {error.message} (pass it in context)",
                    pattern_id=self.instance,
                    cause=error,
                ) from error
        subject, text, html = parts["subject.txt"], parts["txt"], parts["html"]
        if subject is None or (text is None and html is None):
            missing = f"{name}.subject.txt" if subject is None else f"{name}.txt or {name}.html"
            raise TemplateNotFoundError(
                f"email template {name!r} not found: no {missing} in {self._searched(package)}",
                pattern_id=self.instance,
                hint=f"add {name}.subject.txt and {name}.txt and/or {name}.html to "
                "the templates folder",
            )
        # Template files end with a newline; a line break *inside* the subject (say, from
        # a context value) is left for Email to refuse as header injection.
        return RenderedTemplate(subject=subject.strip(), text=text, html=html)

    def _searched(self, package: str) -> str:
        places = [str(self.app_dir)] if self.app_dir is not None else []
        places.append(f"{package}/{PACKAGE_FOLDER}")
        return " or ".join(places)

    def _environment(self, package: str) -> jinja2.Environment:
        environment = self._environments.get(package)
        if environment is None:
            loaders: list[jinja2.BaseLoader] = []
            if self.app_dir is not None:
                loaders.append(jinja2.FileSystemLoader(self.app_dir))
            loaders.append(self._package_loader(package))
            environment = jinja2.Environment(
                loader=jinja2.ChoiceLoader(loaders),
                autoescape=jinja2.select_autoescape(
                    enabled_extensions=("html", "htm"), default_for_string=False, default=False
                ),
                undefined=jinja2.StrictUndefined,
                keep_trailing_newline=True,
            )
            self._environments[package] = environment
        return environment

    def _package_loader(self, package: str) -> jinja2.BaseLoader:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            raise TemplateNotFoundError(
                f"email templates of package {package!r}: no such package is installed",
                pattern_id=self.instance,
                hint="pass package='<importable package>' whose templates/email/ holds them",
            )
        try:
            return jinja2.PackageLoader(package, PACKAGE_FOLDER)
        except ValueError:
            # The package ships no templates folder; the app folder may still have them.
            return jinja2.DictLoader({})
