"""Exit codes as the README promises, through the installed console script.

0 success, 1 runtime failure, 2 invalid composition or usage — for every command group,
failures included. ``CliRunner`` hides how the entry point turns errors into codes, so
these run ``.venv/bin/rainmaker`` in a subprocess, as a CI job gating on it would.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("rainmaker")
SAAS = Path(__file__).resolve().parents[2] / "examples" / "saas"
# The demo ships no secret (issue 19): a run brings its own, as `make demo` generates them.
SAAS_SECRETS = {"JWT_SECRET": secrets.token_urlsafe(48), "PAYMENTS_WEBHOOK_SECRET": "whsec_x" * 8}


def rainmaker(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=120
    )


def test_the_console_script_is_installed() -> None:
    assert SCRIPT.exists(), f"{SCRIPT} missing: install the project with pip install -e ."


def test_version() -> None:
    from rainmaker import __version__

    result = rainmaker("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"rainmaker {__version__}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "No such command 'nosuch'"),
        # click 8.2+ says "No such option '--nosuch'.", typer 0.26+'s own copy of click
        # "No such option: --nosuch": both are allowed (typer >= 0.18).
        (["check", "--nosuch"], "No such option"),
        (["pattern", "info"], "Missing argument"),
        (["pattern", "nosuch"], "No such command 'nosuch'"),
        (["db", "upgrade", "--nosuch"], "No such option"),
        (["graph", "--format", "png"], "Invalid value for '--format'"),
        (["deploy", "render", "--target", "heroku"], "Invalid value"),
        (["run", "--port", "many"], "Invalid value for '--port'"),
        (["worker", "--concurrency", "x"], "Invalid value for '--concurrency'"),
        (["jobs", "retry"], "Missing argument"),
        (["docs", "nosuch"], "No such command 'nosuch'"),
    ],
)
def test_usage_errors_exit_2_with_clicks_message(args: list[str], message: str) -> None:
    result = rainmaker(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "unexpected error" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["check"],
        ["plan"],
        ["graph"],
        ["config", "show"],
        ["lock"],
        ["routes"],
        ["db", "status"],
        ["worker"],
        ["jobs", "stats"],
        ["docs", "build"],
        ["deploy", "render", "--target", "dockerfile"],
        ["run"],
    ],
)
def test_a_missing_composition_exits_2_for_every_command(
    command: list[str], tmp_path: Path
) -> None:
    result = rainmaker(*command, "--app", str(tmp_path / "nowhere"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no composition file" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_pattern_commands_fail_with_non_zero_codes(tmp_path: Path) -> None:
    assert rainmaker("pattern", "create", "Not A Valid Id!", cwd=tmp_path).returncode == 2
    assert rainmaker("pattern", "validate", str(tmp_path / "nowhere")).returncode == 2
    assert rainmaker("pattern", "info", "nosuch-pattern").returncode == 2

    created = rainmaker("pattern", "create", "greeter", cwd=tmp_path)
    assert created.returncode == 0, created.stdout + created.stderr
    package = tmp_path / "greeter"
    # A broken package: the entry point names an attribute that does not exist.
    pyproject = package / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("pattern:greeter", "pattern:no_such_attribute")
    )
    validated = rainmaker("pattern", "validate", str(package))
    assert validated.returncode == 1, validated.stdout + validated.stderr
    assert "no_such_attribute" in validated.stdout + validated.stderr
    tested = rainmaker("pattern", "test", str(package))
    assert tested.returncode != 0, tested.stdout + tested.stderr


def test_db_downgrade_takes_minus_one_as_a_revision(tmp_path: Path) -> None:
    result = rainmaker(
        "db", "downgrade", "-1", "--pattern", "nosuch", "--app", str(SAAS), env=SAAS_SECRETS
    )
    assert "No such option" not in result.stderr
    assert "no pattern 'nosuch' with migrations" in result.stdout + result.stderr
    assert result.returncode == 1


def test_pattern_info_reads_an_apps_local_patterns() -> None:
    result = rainmaker("pattern", "info", "projects", "--app", str(SAAS), env=SAAS_SECRETS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "projects 0.1.0" in result.stdout
    assert rainmaker("pattern", "info", "projects").returncode == 2


def test_shell_completion_is_offered() -> None:
    result = rainmaker("--help")
    assert result.returncode == 0
    assert "--install-completion" in result.stdout
    assert "--version" in result.stdout


@pytest.mark.parametrize("command", [["check"], ["run"], ["db", "upgrade"]])
def test_a_commands_help_renders(command: list[str]) -> None:
    """Typer before 0.16 crashed rendering options' help under click 8.2+ (make_metavar)."""
    result = rainmaker(*command, "--help")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--app" in result.stdout
    assert "unexpected error" not in result.stdout + result.stderr


def test_a_missing_extra_names_the_install_command(tmp_path: Path) -> None:
    """A library an extra provides is absent: exit 1, the pip command, no traceback."""
    blocked = tmp_path / "blocked"
    (blocked / "uvicorn").mkdir(parents=True)
    (blocked / "uvicorn" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'uvicorn'\", name='uvicorn')\n"
    )
    app = tmp_path / "app"
    app.mkdir()
    (app / "rainmaker.toml").write_text(
        '[app]\nname = "bare"\n\n[patterns.web]\nuse = "framework-fastapi"\n'
    )
    result = rainmaker("run", "--app", str(app), env={"PYTHONPATH": str(blocked)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "needs 'uvicorn'" in result.stderr
    assert 'pip install "rainmaker-patterns[http]"' in result.stderr
    assert "Traceback" not in result.stderr


def test_tables_never_cut_identifiers_when_piped() -> None:
    """Ids and environment names are copied from these tables: never "jobs-rabbi…"."""
    listed = rainmaker("patterns", env={"COLUMNS": "80"})
    assert listed.returncode == 0, listed.stderr
    assert "…" not in listed.stdout
    for pattern_id in ("jobs-rabbitmq", "database-postgres", "payment-stripe"):
        assert f"│ {pattern_id} " in listed.stdout
    info = rainmaker("pattern", "info", "jobs-rabbitmq", env={"COLUMNS": "80"})
    assert info.returncode == 0, info.stderr
    assert "RAINMAKER__<INSTANCE>__VISIBILITY_TIMEOUT" in info.stdout
    assert "…" not in info.stdout
