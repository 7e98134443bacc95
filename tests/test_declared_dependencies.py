"""Every third-party package ``src`` imports is declared in pyproject.toml (issue 18).

A package that only arrives through another one's dependencies can vanish, or arrive in a
version older than the code needs, when that other package changes: what we import, we
declare, with its own floor (kept true by ``make test-lowest``).
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "rainmaker"

# Imported from a package that pins them to the exact release it was built with, so a floor
# of our own could only disagree with that pin: botocore comes with aioboto3 (through
# aiobotocore), pyproject_hooks with build, aiohttp with localstripe (the Stripe stand-in
# rainmaker.testing starts), _pytest is pytest's own.
PINNED_BY_THEIR_PARENT = {"botocore", "pyproject_hooks", "aiohttp", "_pytest"}


def declared_distributions() -> set[str]:
    """The canonical names of every requirement in pyproject.toml, core and extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements.extend(extra)
    return {canonicalize_name(Requirement(line).name) for line in requirements}


def imported_top_level_modules() -> set[str]:
    """The top-level names of every absolute import in src (run-time and typing-only)."""
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"rainmaker", "__future__"}


def test_every_imported_package_is_declared() -> None:
    declared = declared_distributions()
    providers = importlib.metadata.packages_distributions()
    undeclared = {}
    for module in sorted(imported_top_level_modules() - PINNED_BY_THEIR_PARENT):
        # A namespace package (opentelemetry) comes from several distributions: one is enough.
        distributions = {canonicalize_name(name) for name in providers.get(module, [])}
        if not distributions & declared:
            undeclared[module] = sorted(distributions) or "not installed"
    assert not undeclared, f"imported by src but not declared in pyproject.toml: {undeclared}"
