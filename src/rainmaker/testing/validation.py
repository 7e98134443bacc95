"""Static checks of a pattern package: ``rainmaker pattern validate``.

Each check returns :class:`Finding` objects, one per problem, each with the check's name
and a fix, so the command prints one line per finding. Nothing here starts a pattern; the
migration check only runs the pattern's own migrations on a throwaway SQLite file, under
the database pattern's prefix guard.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from rainmaker.kernel.catalog import ENTRY_POINT_GROUP, Catalog
from rainmaker.kernel.pattern import Pattern
from rainmaker.testing.package import PatternPackage
from rainmaker.testing.schema_docs import undocumented_fields

# MAJOR.MINOR.PATCH with optional pre-release and build, as semver.org spells it.
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
REQUIRED_PROJECT_KEYS = ("name", "version", "description", "requires-python", "dependencies")
# What importing a pattern's declaration may bring in besides the standard library and
# the package itself: rainmaker's light kernel and what it already imports.
BASELINE_IMPORTS = "import rainmaker, rainmaker.kernel.pattern, rainmaker.capabilities"


@dataclass(frozen=True)
class Finding:
    """One problem found by one check."""

    check: str
    message: str
    fix: str = ""

    def line(self) -> str:
        return f"[{self.check}] {self.message}" + (f" — fix: {self.fix}" if self.fix else "")


# -- package metadata ---------------------------------------------------------------------------


def check_project(package: PatternPackage) -> list[Finding]:
    """``pyproject.toml``: metadata complete, semver version, entry points declared."""
    findings = []
    for key in REQUIRED_PROJECT_KEYS:
        if not package.project.get(key):
            findings.append(
                Finding("metadata", f"pyproject.toml [project] has no {key}", f"set {key}")
            )
    if package.version and not SEMVER.match(package.version):
        findings.append(
            Finding(
                "semver",
                f"package version {package.version!r} is not semantic (MAJOR.MINOR.PATCH)",
                "write the version as e.g. 1.0.0",
            )
        )
    if not package.entry_points:
        findings.append(
            Finding(
                "entry-point",
                f'pyproject.toml declares no [project.entry-points."{ENTRY_POINT_GROUP}"]',
                'add <pattern-id> = "package.pattern:attribute" under that table',
            )
        )
    return findings


# -- one pattern --------------------------------------------------------------------------------


def check_pattern(
    pattern: Pattern[Any], catalog: Catalog, *, package_version: str | None = None
) -> list[Finding]:
    """Declaration checks: metadata, semver, settings documented, examples, requirements."""
    findings = []
    for attribute in ("name", "description"):
        if not getattr(pattern, attribute).strip():
            findings.append(
                Finding(
                    "metadata",
                    f"{pattern.id}: Pattern({attribute}=...) is empty",
                    f"describe the pattern in {attribute}=",
                )
            )
    if not SEMVER.match(pattern.version):
        findings.append(
            Finding(
                "semver",
                f"{pattern.id}: version {pattern.version!r} is not semantic (MAJOR.MINOR.PATCH)",
                "write the version as e.g. 1.0.0",
            )
        )
    if package_version and pattern.version != package_version:
        findings.append(
            Finding(
                "semver",
                f"{pattern.id}: pattern version {pattern.version} differs from the package "
                f"version {package_version}",
                "release them together: give both the same version",
            )
        )
    findings += check_settings(pattern)
    findings += check_factory(pattern)
    findings += check_requirements(pattern, catalog)
    return findings


def check_settings(pattern: Pattern[Any]) -> list[Finding]:
    """A JSON Schema with every field described; examples present and valid."""
    try:
        schema = pattern.settings.model_json_schema()
    except Exception as exc:
        return [Finding("settings", f"{pattern.id}: settings yield no JSON Schema: {exc}")]
    findings = [
        Finding(
            "settings",
            f"{pattern.id}: setting {name!r} has no description",
            "give it Field(description=...)",
        )
        for name in undocumented_fields(schema)
    ]
    if not pattern.examples:
        findings.append(
            Finding(
                "examples", f"{pattern.id}: declares no examples", "add Pattern(examples=[...])"
            )
        )
    for number, example in enumerate(pattern.examples, 1):
        try:
            pattern.settings.model_validate(example)
        except Exception as exc:
            first = str(exc).splitlines()
            findings.append(
                Finding(
                    "examples",
                    f"{pattern.id}: example {number} does not validate: "
                    + " ".join(line.strip() for line in first[:3]),
                    "correct the example or the settings model",
                )
            )
    return findings


def check_factory(pattern: Pattern[Any]) -> list[Finding]:
    """The factory is a lazy ``"module:Name"`` string naming something callable."""
    if not isinstance(pattern.factory, str):
        return [
            Finding(
                "factory",
                f"{pattern.id}: factory is an object, so declaring the pattern imports it",
                "give it as a string 'package.module:ModuleClass'",
            )
        ]
    module_name, _, attr = pattern.factory.partition(":")
    try:
        target = getattr(__import__(module_name, fromlist=[attr]), attr)
    except Exception as exc:
        return [
            Finding("factory", f"{pattern.id}: factory {pattern.factory!r} does not resolve: {exc}")
        ]
    if not callable(target):
        return [Finding("factory", f"{pattern.id}: factory {pattern.factory!r} is not callable")]
    return []


def check_requirements(pattern: Pattern[Any], catalog: Catalog) -> list[Finding]:
    """Every required capability has an installed provider within the required versions."""
    findings = []
    for requirement in pattern.requirements:
        name = requirement.capability.name
        offers = [
            (other.id, provision.version)
            for other in catalog
            if other.id != pattern.id
            for provision in other.provisions
            if provision.capability.name == name
        ]
        if not offers:
            if not requirement.optional:
                findings.append(
                    Finding(
                        "requires",
                        f"{pattern.id}: requires {name}, which no installed pattern provides",
                        f"depend on a package that provides {name}, or make it optional",
                    )
                )
            continue
        if requirement.versions and not any(requirement.accepts(v) for _, v in offers):
            shown = ", ".join(f"{pid} provides {name} {version}" for pid, version in offers)
            findings.append(
                Finding(
                    "versions",
                    f"{pattern.id}: requires {name} {requirement.versions}, which no installed "
                    f"provider satisfies ({shown})",
                    "widen the range, or depend on a provider at a matching version",
                )
            )
    return findings


# -- import weight ------------------------------------------------------------------------------


def declaration_module(pattern_id: str, package: PatternPackage | None) -> str | None:
    """The module an entry point names (the pattern's declaration)."""
    if package is not None:
        value = package.entry_points.get(pattern_id)
    else:
        found = [e.value for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == pattern_id]
        value = found[0] if found else None
    return value.partition(":")[0] if value else None


def heavy_imports(module: str, env: Mapping[str, str] | None = None) -> list[str]:
    """Third-party top-level packages that importing ``module`` loads, beyond the kernel.

    Runs in a fresh interpreter, so what this process already imported does not hide any.
    """
    own = module.split(".")[0]
    script = (
        "import sys, json\n"
        f"{BASELINE_IMPORTS}\n"
        "before = set(sys.modules)\n"
        f"import {module}\n"
        # A package the kernel already loaded is no new weight, even when a submodule of
        # it is (pydantic.networks for an IP-address field).
        "new = {name.split('.')[0] for name in set(sys.modules) - before}\n"
        "new -= {name.split('.')[0] for name in before}\n"
        f"new -= set(sys.stdlib_module_names) | {{{own!r}, 'rainmaker', '_distutils_hack'}}\n"
        "print(json.dumps(sorted(n for n in new if not n.startswith('_'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr else "failed")
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def check_import_weight(
    pattern_id: str, package: PatternPackage | None, env: Mapping[str, str] | None = None
) -> list[Finding]:
    """Importing the declaration loads no third-party package the kernel does not."""
    module = declaration_module(pattern_id, package)
    if module is None:
        return [Finding("entry-point", f"{pattern_id}: no entry point declares it")]
    try:
        heavy = heavy_imports(module, env)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return [Finding("entry-point", f"{pattern_id}: importing {module} fails: {exc}")]
    if heavy:
        return [
            Finding(
                "imports",
                f"{pattern_id}: importing {module} imports {', '.join(heavy)}",
                "import them inside the module's start() or in the module file named by the "
                "string factory, not in the declaration or the settings",
            )
        ]
    return []


# -- migrations ---------------------------------------------------------------------------------


def check_migrations(pattern: Pattern[Any]) -> list[Finding]:
    """The pattern's migrations run on an empty SQLite file under the prefix guard."""
    if pattern.migrations is None:
        return []
    if any(p.capability.name == "Database" for p in pattern.provisions):
        # A database pattern's own tables are checked by the Database contract suite:
        # its migrations run on the server it connects to, not on a throwaway file.
        return []
    if not any(r.capability.name == "Database" for r in pattern.requirements):
        return [
            Finding(
                "migrations",
                f"{pattern.id}: declares migrations but does not require Database",
                "add Database (or Database.optional()) to requires",
            )
        ]
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)  # a check prints findings, not Alembic's progress
    try:
        asyncio.run(_run_migrations(pattern))
    except Exception as exc:
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        return [Finding("migrations", f"{pattern.id}: {message}", getattr(exc, "hint", "") or "")]
    finally:
        alembic_log.setLevel(level)
    return []


async def _run_migrations(pattern: Pattern[Any]) -> None:
    from rainmaker.testing.harness import load_pattern

    with tempfile.TemporaryDirectory(prefix="rm-validate-") as folder:
        root = Path(folder)
        example = next(
            (e for e in pattern.examples if "${" not in json.dumps(e, default=str)),
            pattern.examples[0] if pattern.examples else {},
        )
        loaded = load_pattern(
            pattern,
            example,
            root=root,
            providers={
                "Database": {
                    "use": "database-sqlite",
                    "path": str(root / "validate.db"),
                    "auto_migrate": False,
                }
            },
            http=False,
        )
        app = loaded.app
        app.configure_logging(level="warning")  # a check prints findings, not progress
        modules = app.modules()
        database_instance = app.instances[loaded.instance].bindings.get("Database")
        if database_instance is None:
            raise RuntimeError("no Database was bound to run the migrations on")
        # Through the same door as `rainmaker db upgrade`: the database's migration runner.
        offer = modules[database_instance].migration_runner()
        if offer is None:
            raise RuntimeError(f"{database_instance} runs no migrations")
        async with offer as runner:
            await runner.upgrade(loaded.instance)


# -- layout ------------------------------------------------------------------------------------

# The files every pattern package has (docs/guides/pattern-contract.md, "One layout"): a
# reader finds the declaration, the settings and the running module by name, in any package.
LAYOUT_FILES = ("pattern.py", "settings.py", "module.py")


def package_folder(pattern: Pattern[Any]) -> Path | None:
    """The folder of the package holding the pattern's factory module, when it has one.

    ``None`` for a factory given as a class or living in a top-level module (an app's
    single-file local pattern): the layout applies to packages.
    """
    if not isinstance(pattern.factory, str):
        return None
    package, _, _ = pattern.factory.partition(":")[0].rpartition(".")
    if not package:
        return None
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None  # check_factory reports a factory that does not import
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def check_layout(pattern: Pattern[Any]) -> list[Finding]:
    """The package holds pattern.py, settings.py, module.py, and tables.py when it owns
    data (declares migrations)."""
    folder = package_folder(pattern)
    if folder is None:
        return []
    findings = []
    missing = [name for name in LAYOUT_FILES if not (folder / name).is_file()]
    if missing:
        findings.append(
            Finding(
                "layout",
                f"{pattern.id}: {folder.name}/ has no {', '.join(missing)}",
                "keep the declaration in pattern.py, the settings models in settings.py and "
                "the Module in module.py (docs/guides/pattern-contract.md, One layout)",
            )
        )
    if pattern.migrations is not None and not (folder / "tables.py").is_file():
        findings.append(
            Finding(
                "layout",
                f"{pattern.id}: declares migrations but {folder.name}/ has no tables.py",
                "define the tables it owns in tables.py and use their MetaData as the "
                "migrations package's target_metadata",
            )
        )
    return findings


# -- everything ---------------------------------------------------------------------------------


def validate(
    patterns: Mapping[str, Pattern[Any]],
    *,
    package: PatternPackage | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Every finding for ``patterns`` (and their package, when validating a folder)."""
    catalog = Catalog.installed()
    findings = check_project(package) if package is not None else []
    for pattern_id in package.entry_points if package is not None else patterns:
        for problem in catalog.problems_by_id.get(pattern_id, []):
            findings.append(Finding("entry-point", problem.message, problem.fix or ""))
        pattern = patterns.get(pattern_id)
        if pattern is None:
            continue
        declared = check_pattern(
            pattern, catalog, package_version=package.version if package else None
        )
        findings += declared
        findings += check_layout(pattern)
        findings += check_import_weight(pattern_id, package, env)
        if not any(f.check in ("requires", "versions", "factory") for f in declared):
            # Unmet requirements would only fail the migration check's composition again.
            findings += check_migrations(pattern)
    return findings
