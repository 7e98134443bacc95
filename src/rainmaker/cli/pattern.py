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
from packaging.version import InvalidVersion, Version
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


AgainstOption = Annotated[
    str | None,
    typer.Option(
        "--against",
        help="Compare with what is published: an index (a folder, or a file:// or "
        "http(s):// simple-index URL; its latest release below this version), or a published "
        "VERSION in the --index.",
    ),
]
IndexOption = Annotated[
    str | None,
    typer.Option(
        "--index",
        help="The index holding --against VERSION (default: $PIP_INDEX_URL, else PyPI); for "
        "publish --url/--repository, the simple index to check the upload against.",
    ),
]


def validate(
    target: TargetArgument = ".", against: AgainstOption = None, index: IndexOption = None
) -> None:
    """Static checks, one line per finding: metadata, semver, entry point, settings,
    migrations, import weight, requirements and version ranges. With --against, also the
    compatibility with a published release and whether the version announces it."""
    from rainmaker.testing.validation import validate as find

    resolved = _against(against, index) if against is not None else None
    with (
        tempfile.TemporaryDirectory(prefix="rm-validate-") as work,
        _target(target, Path(work)) as opened,
    ):
        findings = find(opened.patterns, package=opened.package, env=opened.env)
        manifest = _manifest(opened) if resolved is not None else None
    for finding in findings:
        console.print(f"[red]✗[/] {escape(finding.line())}")
    compatible = True
    if resolved is not None:
        if opened.package is None:
            err_console.print(
                "[bold red]✗[/] --against compares a package folder with its published "
                "releases; give the folder, not an installed pattern id"
            )
            raise typer.Exit(2)
        if manifest is None:
            console.print("[red]✗[/] compatibility not checked: no pattern loads")
            compatible = False
        else:
            compatible = _compatible(manifest, *resolved)
    if findings:
        console.print(f"[bold red]{len(findings)} finding(s)[/] in {escape(opened.label)}")
    if findings or not compatible:
        raise typer.Exit(1)
    console.print(f"[green]✓[/] {escape(opened.label)}: no findings")


def _against(against: str, index: str | None) -> tuple[Any, Version | None]:
    """``--against``: an index (folder or URL), or a version in ``--index``."""
    from rainmaker.testing.publishing import PublishError, default_index, open_index

    try:
        if "://" in against or Path(against).is_dir():
            if index is not None:
                err_console.print("[bold red]✗[/] --index goes with --against VERSION only")
                raise typer.Exit(2)
            return open_index(against), None
        try:
            version = Version(against)
        except InvalidVersion:
            err_console.print(
                f"[bold red]✗[/] --against {escape(against)}: no such folder, and not a "
                "version; give an index folder, a file:// or http(s):// simple-index URL, or a "
                "published version (with --index)"
            )
            raise typer.Exit(2) from None
        return open_index(index or default_index()), version
    except PublishError as error:
        err_console.print(f"[bold red]✗[/] {escape(str(error))}")
        raise typer.Exit(2) from None


def _manifest(opened: Target) -> Any | None:
    """The manifest of the opened package (``None`` when none of its patterns loads)."""
    from rainmaker.testing.manifest import manifest_of

    if opened.package is None or not opened.patterns:
        return None
    return manifest_of(opened.package.name, opened.package.version, opened.patterns)


_MARKS = {
    "breaking": "[red]✗[/]",
    "addition": "[green]+[/]",
    "unchanged": "[green]✓[/]",
    "unknown": "[yellow]?[/]",
}


def _compatible(manifest: Any, index: Any, version: Version | None) -> bool:
    """Compare ``manifest`` with the index's release and print the verdict."""
    from rainmaker.testing.publishing import PublishError, RefusedRelease, check_release

    refused = ""
    try:
        comparison = check_release(index, manifest, against=version)
    except RefusedRelease as error:
        comparison, refused = error.comparison, str(error)
    except PublishError as error:
        console.print(f"[red]✗[/] {escape(str(error))}")
        return False
    _print_comparison(manifest, comparison)
    if refused:
        console.print(f"[red]✗[/] {escape(refused)}")
        return False
    return True


def _print_comparison(manifest: Any, comparison: Any) -> None:
    for pattern_id, entry in sorted(manifest.patterns.items()):
        for note in entry.notes:
            console.print(f"[blue]i[/] {escape(pattern_id)}: {escape(note)}")
    if comparison.previous is None or not comparison.changes:
        console.print(f"[blue]i[/] {escape(comparison.note)}")
        return
    console.print(
        f"compared with {escape(manifest.distribution)} {comparison.previous} in "
        f"{escape(comparison.index)}:"
    )
    for change in comparison.changes:
        console.print(f"  {_MARKS[change.kind]} {escape(change.line())}")


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
    to: Annotated[
        Path | None,
        typer.Option("--to", help="Write into this folder, a PEP 503 simple index."),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Upload with twine to this upload URL.")
    ] = None,
    repository: Annotated[
        str | None,
        typer.Option(
            "--repository", help="Upload with twine to this repository named in ~/.pypirc."
        ),
    ] = None,
    index: IndexOption = None,
    skip_tests: Annotated[
        bool, typer.Option("--skip-tests", help="Do not run `pattern test` first.")
    ] = False,
    no_isolation: Annotated[
        bool,
        typer.Option(
            "--no-isolation",
            help="Build with the build backend installed here instead of a fresh environment "
            "from [build-system] (for machines that cannot reach an index).",
        ),
    ] = False,
) -> None:
    """Validate, check compatibility with the target, test, build (sdist and wheel from it,
    in isolation) and publish to a folder index or upload with twine."""
    from rainmaker.testing.publishing import (
        KNOWN_SIMPLE_INDEXES,
        FolderIndex,
        PublishError,
        build,
        check_build_system,
        open_index,
        release_stem,
        upload,
    )
    from rainmaker.testing.validation import validate as find

    targets = [given for given in (to, url, repository) if given is not None]
    if len(targets) != 1:
        err_console.print(
            "[bold red]✗[/] give one of --to DIR (a folder index), --url URL (an upload URL) "
            "or --repository NAME (a repository in ~/.pypirc)"
        )
        raise typer.Exit(2)
    if repository is not None and ("/" in repository or Path(repository).is_dir()):
        err_console.print(
            f"[bold red]✗[/] --repository names a repository of ~/.pypirc; to write the folder "
            f"index {escape(repository)}, give --to {escape(repository)}"
        )
        raise typer.Exit(2)
    if url is not None and not url.startswith(("http://", "https://")):
        err_console.print(f"[bold red]✗[/] --url {escape(url)} is not an http(s) upload URL")
        raise typer.Exit(2)
    if not Path(target).is_dir():
        err_console.print(f"[bold red]✗[/] {escape(target)} is not a package folder")
        raise typer.Exit(2)
    folder = FolderIndex.at(to) if to is not None else None
    upload_to = repository or url or ""
    try:
        check_build_system(Path(target).resolve())
        if folder is not None:
            checked_in: Any = folder
        else:
            simple = index or KNOWN_SIMPLE_INDEXES.get(upload_to)
            checked_in = open_index(simple) if simple else None
    except PublishError as error:
        err_console.print(f"[bold red]✗ not published:[/] {escape(str(error))}")
        raise typer.Exit(1) from None
    with (
        tempfile.TemporaryDirectory(prefix="rm-publish-") as work,
        _target(target, Path(work)) as opened,
    ):
        findings = find(opened.patterns, package=opened.package, env=opened.env)
        manifest = _manifest(opened)
    package = opened.package
    assert package is not None  # a folder target always has its package
    if findings or manifest is None:
        for finding in findings:
            console.print(f"[red]✗[/] {escape(finding.line())}")
        err_console.print("[bold red]✗ not published:[/] `pattern validate` has findings")
        raise typer.Exit(1)
    try:
        if folder is not None:
            folder.check_writable(package.name)
        if checked_in is None:
            console.print(
                f"[yellow]![/] not checked against {escape(upload_to)}: give --index with its "
                "simple index URL to refuse a version already there or an unannounced change"
            )
        elif not _compatible(manifest, checked_in, None):
            err_console.print(
                "[bold red]✗ not published:[/] the release is not compatible with what "
                f"{escape(checked_in.label)} holds"
            )
            raise typer.Exit(1)
        if not skip_tests and not run_pattern_tests(target, None):
            err_console.print("[bold red]✗ not published:[/] `pattern test` failed")
            raise typer.Exit(1)
        with tempfile.TemporaryDirectory(prefix="rm-dist-") as dist:
            artifacts = build(package.root, Path(dist), isolation=not no_isolation)
            if folder is None:
                upload(artifacts, repository=repository, url=url)
            else:
                folder.add(package.name, Version(package.version), artifacts, manifest)
            names = f"{artifacts.sdist.name}, {artifacts.wheel.name}"
    except PublishError as error:
        err_console.print(f"[bold red]✗ not published:[/] {escape(str(error))}")
        raise typer.Exit(1) from None
    if folder is None:
        where = upload_to
    else:
        stem = release_stem(package.name, package.version)
        where = (
            f"{folder.simple} (pip --index-url {folder.simple.resolve().as_uri()}), "
            f"manifest {stem}.pattern-manifest.json"
        )
    console.print(f"[green]✓[/] published {escape(opened.label)}: {names} -> {escape(where)}")
