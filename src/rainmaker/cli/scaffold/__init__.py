"""``rainmaker pattern create``: a new pattern package from the templates beside this file.

The package passes ``rainmaker pattern test`` and ``validate`` as generated. With
``--capability``, the module starts as a subclass of that capability's embedded built-in
implementation (so the contract suite passes from the first run) for the author to
replace, and the tests include the capability's contract suite.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).with_name("templates")
NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Embedded:
    """How a scaffold provides a capability: the built-in implementation it extends."""

    settings_module: str
    settings_class: str
    module_module: str
    module_class: str
    examples: str
    contract_test: str | None


CAPABILITIES: dict[str, Embedded] = {
    "Cache": Embedded(
        "rainmaker.patterns.cache.settings",
        "MemoryCacheSettings",
        "rainmaker.patterns.cache.module",
        "MemoryCacheModule",
        '{}, {"greeting": "bonjour", "max_entries": 1000}',
        "test_cache_contract.py",
    ),
    "Mailer": Embedded(
        "rainmaker.patterns.email.settings",
        "ConsoleSettings",
        "rainmaker.patterns.email.module",
        "ConsoleMailerModule",
        '{"default_sender": "no-reply@example.com"}, '
        '{"default_sender": "Acme <no-reply@acme.example>", "greeting": "bonjour"}',
        "test_mailer_contract.py",
    ),
}


def names(name: str) -> dict[str, str]:
    """Every spelling of ``name`` the templates use."""
    package = name.replace("-", "_")
    return {
        "id": name,
        "dist": name,
        "package": package,
        "variable": package,
        "klass": "".join(part.capitalize() for part in name.split("-")),
        "title": " ".join(part.capitalize() for part in name.split("-")),
        "prefix": f"{package}_",
        "revision": uuid.uuid4().hex[:12],
    }


def variables(name: str, capability: str | None) -> dict[str, str]:
    """Template values for a package ``name`` providing ``capability`` (or nothing)."""
    values = names(name)
    if capability is None:
        values.update(
            settings_import="from rainmaker import Settings",
            settings_base="Settings",
            capability_import="",
            provides="",
            examples='{}, {"greeting": "bonjour"}',
            module_rainmaker=", Module",
            module_imports="",
            module_base=f"Module[{values['klass']}Settings]",
            start_body="",
            stop_body="",
        )
        return values
    embedded = CAPABILITIES[capability]
    values.update(
        settings_import=f"from {embedded.settings_module} import {embedded.settings_class}",
        settings_base=embedded.settings_class,
        capability_import=f"from rainmaker.capabilities.{capability.lower()} import {capability}",
        provides=capability,
        examples=embedded.examples,
        module_rainmaker="",
        module_imports=f"from {embedded.module_module} import {embedded.module_class}\n",
        module_base=embedded.module_class,
        start_body="        # Starts the embedded implementation: replace it with yours.\n"
        "        await super().start()\n",
        stop_body="            await super().stop()\n",
    )
    return values


def create(name: str, folder: Path, capability: str | None = None) -> list[Path]:
    """Write the package ``name`` into ``folder`` (which must not exist); the files written."""
    if not NAME.match(name):
        raise ValueError(
            f"{name!r} is not a valid pattern id: lowercase words joined by '-', e.g. 'greeter'"
        )
    if capability is not None and capability not in CAPABILITIES:
        raise ValueError(
            f"no scaffold for capability {capability!r}; choose one of {', '.join(CAPABILITIES)}"
        )
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} already exists and is not empty")
    values = variables(name, capability)
    package = values["package"]
    targets = {
        "pyproject.toml.tmpl": "pyproject.toml",
        "README.md.tmpl": "README.md",
        "src/__init__.py.tmpl": f"src/{package}/__init__.py",
        "src/settings.py.tmpl": f"src/{package}/settings.py",
        "src/pattern.py.tmpl": f"src/{package}/pattern.py",
        "src/module.py.tmpl": f"src/{package}/module.py",
        "src/tables.py.tmpl": f"src/{package}/tables.py",
        "src/migrations/__init__.py.tmpl": f"src/{package}/migrations/__init__.py",
        "src/migrations/0001_initial.py.tmpl": f"src/{package}/migrations/0001_initial.py",
        "tests/test_pattern.py.tmpl": f"tests/test_{package}.py",
    }
    embedded = CAPABILITIES.get(capability or "")
    if embedded is not None and embedded.contract_test is not None:
        targets[f"tests/{embedded.contract_test}.tmpl"] = f"tests/{embedded.contract_test}"
    written = []
    for template, target in targets.items():
        text = Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
        path = folder / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_tidy(text), encoding="utf-8")
        written.append(path)
    return written


def _tidy(text: str) -> str:
    """Collapse the blank lines an empty substitution leaves (at most two in a row)."""
    return re.sub(r"\n{4,}", "\n\n\n", text).replace("\n\n\n\n", "\n\n\n")
