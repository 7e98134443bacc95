"""``rainmaker pattern …``: describe installed patterns, and create, test, validate and
publish pattern packages.

``test``, ``validate`` and ``publish`` take a package folder (default: the current one),
which need not be installed; ``test`` and ``validate`` also take the id of an installed
pattern, so the built-in patterns are held to the same checks.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from packaging.version import Version
from rich.console import Console
from rich.markup import escape

from rainmaker.cli.inspect import pattern_info
from rainmaker.kernel.pattern import Pattern

# soft_wrap: one finding is one line, however long, so it can be grepped.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``pattern`` command group."""
    pattern_app = typer.Typer(help="Describe and develop patterns.", no_args_is_help=True)
    pattern_app.command("info")(pattern_info)
    pattern_app.command("create")(create)
    pattern_app.command("test")(test)
    pattern_app.command("validate")(validate)
    pattern_app.command("publish")(publish)
    app.add_typer(pattern_app, name="pattern")


@dataclass
class Target:
    """What a command works on: a package folder, or one installed pattern."""

    patterns: dict[str, Pattern[Any]]
    package: Any | None  # PatternPackage; typed loosely to keep the import lazy
    env: dict[str, str] | None
    label: str


@contextmanager
def _target(target: str, work: Path) -> Iterator[Target]:
    """Open ``target`` (a folder or an installed pattern id) for the duration of a command."""
    from rainmaker.testing.package import PackageError, PatternPackage, installed_pattern

    path = Path(target)
    try:
        if path.is_dir():
            package = PatternPackage.read(path)
            with package.activate(work):
                try:
                    patterns = package.patterns()
                except PackageError:
                    patterns = {}  # validate reports why, one line per entry point
                yield Target(
                    patterns,
                    package,
                    package.environment(work),
                    f"{package.name} {package.version}",
                )
            return
        pattern = installed_pattern(target)
    except PackageError as error:
        err_console.print(f"[bold red]✗[/] {escape(str(error))}")
        raise typer.Exit(2) from None
    yield Target({pattern.id: pattern}, None, None, f"{pattern.id} {pattern.version} (installed)")


TargetArgument = Annotated[
    str,
    typer.Argument(help="A pattern package folder, or the id of an installed pattern."),
]


def create(
    name: Annotated[str, typer.Argument(help="The pattern id, e.g. 'greeter'.")],
    capability: Annotated[
        str | None,
        typer.Option("--capability", help="A capability to provide: Cache or Mailer."),
    ] = None,
    path: Annotated[
        Path | None, typer.Option("--path", help="Folder to create (default: ./NAME).")
    ] = None,
) -> None:
    """Create an installable pattern package that passes `pattern test` and `validate`."""
    from rainmaker.cli.scaffold import create as write_scaffold

    folder = path if path is not None else Path(name)
    try:
        written = write_scaffold(name, folder, capability)
    except (ValueError, FileExistsError) as error:
        err_console.print(f"[bold red]✗[/] {escape(str(error))}")
        raise typer.Exit(2) from None
    console.print(f"[green]✓[/] created pattern package {name} in {folder}")
    for file in written:
        console.print(f"  {file.relative_to(folder)}")
    console.print(f"next: rainmaker pattern test {folder} && rainmaker pattern validate {folder}")


def validate(target: TargetArgument = ".") -> None:
    """Static checks, one line per finding: metadata, semver, entry point, settings,
    migrations, import weight, requirements and version ranges."""
    from rainmaker.testing.validation import validate as find

    with (
        tempfile.TemporaryDirectory(prefix="rm-validate-") as work,
        _target(target, Path(work)) as opened,
    ):
        findings = find(opened.patterns, package=opened.package, env=opened.env)
    if findings:
        for finding in findings:
            console.print(f"[red]✗[/] {escape(finding.line())}")
        console.print(f"[bold red]{len(findings)} finding(s)[/] in {escape(opened.label)}")
        raise typer.Exit(1)
    console.print(f"[green]✓[/] {escape(opened.label)}: no findings")


def test(
    target: TargetArgument = ".",
    settings: Annotated[
        str | None,
        typer.Option("--settings", help="Settings to test with, as JSON (default: an example)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show pytest's output.")] = False,
) -> None:
    """Lifecycle conformance, the claimed contract suites and the package's own tests."""
    if not run_pattern_tests(target, settings, verbose=verbose):
        raise typer.Exit(1)


def run_pattern_tests(target: str, settings: str | None, *, verbose: bool = False) -> bool:
    """Run ``pattern test`` and print its summary; whether everything passed."""
    from rainmaker.testing.runner import run_tests

    explicit = json.loads(settings) if settings else None
    with (
        tempfile.TemporaryDirectory(prefix="rm-test-") as work,
        _target(target, Path(work)) as opened,
    ):
        if not opened.patterns:
            err_console.print("[bold red]✗[/] no pattern loads; run `rainmaker pattern validate`")
            return False
        tests = opened.package.root / "tests" if opened.package is not None else None
        summary = run_tests(
            list(opened.patterns.values()),
            Path(work),
            settings=explicit,
            tests_folder=tests,
            env=opened.env,
        )
    if verbose or (not summary.groups and summary.exit_code not in (0, 5)):
        console.print(escape(summary.output))
    console.print(f"[bold]pattern test[/] {escape(opened.label)}")
    for group in summary.groups.values():
        mark = "[green]✓[/]" if group.ok else "[red]✗[/]"
        skipped = f", {len(group.skipped)} skipped" if group.skipped else ""
        failed = f", {len(group.failed)} failed" if group.failed else ""
        console.print(f"{mark} {group.name}: {group.passed} passed{failed}{skipped}")
        for line in group.failed:
            console.print(f"    [red]✗[/] {escape(line)}")
        for line in group.skipped:
            console.print(f"    [yellow]-[/] {escape(line)}")
    for note in summary.notes:
        mark = "[red]✗[/]" if note.startswith("missing:") else "[blue]i[/]"
        console.print(f"{mark} {escape(note.removeprefix('missing: '))}")
    verdict = "[bold green]passed[/]" if summary.ok else "[bold red]failed[/]"
    console.print(f"pattern test {verdict}")
    return summary.ok


def publish(
    target: Annotated[str, typer.Argument(help="The pattern package folder.")] = ".",
    repository: Annotated[
        str,
        typer.Option("--repository", help="A folder (PEP 503 simple index) or an upload URL."),
    ] = "",
    skip_tests: Annotated[
        bool, typer.Option("--skip-tests", help="Do not run `pattern test` first.")
    ] = False,
) -> None:
    """Validate, test, build (sdist and wheel) and publish to a folder index or a URL."""
    from rainmaker.testing.publishing import (
        FolderIndex,
        PublishError,
        build,
        check_release,
        settings_schemas,
        upload,
    )
    from rainmaker.testing.validation import validate as find

    if not repository:
        err_console.print("[bold red]✗[/] give --repository DIR or --repository URL")
        raise typer.Exit(2)
    if not Path(target).is_dir():
        err_console.print(f"[bold red]✗[/] {escape(target)} is not a package folder")
        raise typer.Exit(2)
    with (
        tempfile.TemporaryDirectory(prefix="rm-publish-") as work,
        _target(target, Path(work)) as opened,
    ):
        findings = find(opened.patterns, package=opened.package, env=opened.env)
        schemas = settings_schemas(opened.patterns)
    if findings:
        for finding in findings:
            console.print(f"[red]✗[/] {escape(finding.line())}")
        err_console.print("[bold red]✗ not published:[/] `pattern validate` has findings")
        raise typer.Exit(1)
    if not skip_tests and not run_pattern_tests(target, None):
        err_console.print("[bold red]✗ not published:[/] `pattern test` failed")
        raise typer.Exit(1)
    package = opened.package
    assert package is not None
    version = Version(package.version)
    is_url = "://" in repository
    index = None if is_url else FolderIndex(Path(repository))
    try:
        if index is not None:
            check_release(index, package.name, version, schemas)
        with tempfile.TemporaryDirectory(prefix="rm-dist-") as dist:
            artifacts = build(package.root, Path(dist))
            if index is None:
                upload(artifacts, repository)
            else:
                index.add(package.name, version, artifacts, schemas)
            names = f"{artifacts.sdist.name}, {artifacts.wheel.name}"
    except PublishError as error:
        err_console.print(f"[bold red]✗ not published:[/] {escape(str(error))}")
        raise typer.Exit(1) from None
    where = (
        repository
        if index is None
        else f"{index.simple} (pip --index-url file://{index.simple.resolve()})"
    )
    console.print(f"[green]✓[/] published {escape(opened.label)}: {names} -> {escape(where)}")
