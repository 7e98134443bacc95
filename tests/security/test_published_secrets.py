"""A secret anyone can read in the repository signs tokens and webhooks for anyone: published
and low-entropy secrets warn loudly in development and are refused by a non-development
profile or a non-loopback bind (issue 19, finding 6). Checked through the installed
``rainmaker`` script, as an operator runs it."""

from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rainmaker.kernel.loading import load
from rainmaker.kernel.secret_strength import estimated_entropy_bits, is_loopback_host, weak_secrets
from rainmaker.testing.smtp_server import free_port

SCRIPT = Path(sys.executable).with_name("rainmaker")
SAAS = Path(__file__).resolve().parents[2] / "examples" / "saas"
PUBLISHED = "published-in-the-repo-0123456789abcdefghij"


def rainmaker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**_clean_environ(), "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=full_env, timeout=120
    )


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RAINMAKER")}


def _app(tmp_path: Path, secret: str = "${JWT_SECRET:-" + PUBLISHED + "}") -> Path:
    (tmp_path / "rainmaker.toml").write_text(
        '[app]\nname = "weak"\n\n'
        '[patterns.db]\nuse = "database-sqlite"\npath = "w.db"\n\n'
        f'[patterns.auth]\nuse = "auth-jwt"\nsecret = "{secret}"\n\n'
        '[patterns.web]\nuse = "framework-fastapi"\n\n'
        '[profiles.production.app]\nlog_format = "json"\n'
    )
    return tmp_path


def production_env() -> dict[str, str]:
    """Every variable the demo's production profile reads, secrets freshly generated."""
    return {
        "JWT_SECRET": secrets.token_urlsafe(40),
        "DATABASE_URL": "postgresql://saas@127.0.0.1:5432/saas",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SMTP_HOST": "127.0.0.1",
        "S3_BUCKET": "saas-files",
        "S3_ENDPOINT_URL": "http://127.0.0.1:8333",
        "S3_ACCESS_KEY": secrets.token_hex(10),
        "S3_SECRET_KEY": secrets.token_urlsafe(30),
        "STRIPE_API_KEY": "sk_test_" + secrets.token_urlsafe(24),
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(24),
    }


# -- what is weak -----------------------------------------------------------------------------


def test_entropy_estimate_ranks_generated_values_above_words() -> None:
    assert estimated_entropy_bits("") == 0
    assert estimated_entropy_bits("a" * 64) == 0
    assert estimated_entropy_bits("changeme") < 40
    assert estimated_entropy_bits(secrets.token_urlsafe(32)) > 128


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "example.com", ""])
def test_other_hosts_reach_other_machines(host: str) -> None:
    assert not is_loopback_host(host)


def test_a_default_in_the_composition_is_published(tmp_path: Path) -> None:
    (weak,) = weak_secrets(load(_app(tmp_path), environ={}))
    assert (weak.instance, weak.key) == ("auth", "secret")
    assert "published" in weak.reason and PUBLISHED not in str(weak.problem())


def test_a_secret_from_the_environment_is_not(tmp_path: Path) -> None:
    app = load(_app(tmp_path), environ={"JWT_SECRET": secrets.token_urlsafe(40)})
    assert weak_secrets(app) == []


def test_a_value_of_env_example_is_published(tmp_path: Path) -> None:
    listed = "listed-in-env-example-" + secrets.token_hex(12)
    (tmp_path / ".env.example").write_text(f"# comment\nJWT_SECRET={listed}\n")
    (weak,) = weak_secrets(load(_app(tmp_path), environ={"JWT_SECRET": listed}))
    assert "published" in weak.reason


def test_a_pattern_default_is_published(tmp_path: Path) -> None:
    """payment-local ships a default webhook secret: whoever has the package can sign."""
    (tmp_path / "rainmaker.toml").write_text(
        '[app]\nname = "pay"\n\n[patterns.db]\nuse = "database-sqlite"\npath = "p.db"\n\n'
        '[patterns.payments]\nuse = "payment-local"\n'
    )
    found = {(w.instance, w.key) for w in weak_secrets(load(tmp_path, environ={}))}
    assert ("payments", "webhook_secret") in found


def test_secrets_inside_lists_of_keys_are_judged_each(tmp_path: Path) -> None:
    """auth-jwt's rotating signing keys and 2FA encryption keys: no key escapes the check."""
    (tmp_path / "rainmaker.toml").write_text(
        '[app]\nname = "keys"\n\n[patterns.db]\nuse = "database-sqlite"\npath = "k.db"\n\n'
        '[patterns.auth]\nuse = "auth-jwt"\nactive_key = "new"\n'
        'keys = [{ kid = "old", secret = "${OLD_KEY}" }, '
        '{ kid = "new", secret = "${NEW_KEY:-' + PUBLISHED + '}" }]\n'
    )
    app = load(tmp_path, environ={"OLD_KEY": secrets.token_urlsafe(40)})
    assert [(w.key, "published" in w.reason) for w in weak_secrets(app)] == [
        ("keys.1.secret", True)
    ]


def test_a_repetitive_secret_is_below_its_minimum_entropy(tmp_path: Path) -> None:
    app = load(_app(tmp_path, secret="${JWT_SECRET}"), environ={"JWT_SECRET": "ab" * 16})
    (weak,) = weak_secrets(app)
    assert "entropy" in weak.reason


# -- check, run and worker ----------------------------------------------------------------------


def test_check_warns_in_development_and_fails_production(tmp_path: Path) -> None:
    app = str(_app(tmp_path))
    development = rainmaker("check", "--app", app)
    assert development.returncode == 0, development.stderr
    assert "auth.secret: weak secret" in development.stdout
    production = rainmaker("check", "--app", app, "--profile", "production")
    assert production.returncode == 2, production.stdout + production.stderr
    shown = production.stdout + production.stderr
    assert "auth.secret" in shown and "weak secret" in shown and "Traceback" not in shown
    assert PUBLISHED not in shown


def test_run_refuses_a_published_secret_on_a_non_loopback_address(tmp_path: Path) -> None:
    result = rainmaker("run", "--app", str(_app(tmp_path)), "--host", "0.0.0.0", "--port", "0")
    shown = result.stdout + result.stderr
    assert result.returncode == 2, shown
    assert "weak secret" in shown and PUBLISHED not in shown and "Traceback" not in shown


def test_worker_refuses_a_published_secret_outside_development(tmp_path: Path) -> None:
    app = _app(tmp_path)
    with (app / "rainmaker.toml").open("a") as toml:
        toml.write('\n[patterns.jobs]\nuse = "jobs-local"\n')
    result = rainmaker("worker", "--app", str(app), "--profile", "production")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "weak secret" in result.stdout + result.stderr


def test_run_on_loopback_in_development_warns_loudly_and_serves(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(SCRIPT), "run", "--app", str(_app(tmp_path)), "--port", str(port)],
        env={**_clean_environ(), "NO_COLOR": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        seen = []
        for line in process.stderr:  # the warning comes before the server binds
            seen.append(line)
            if line.startswith("WARNING ") or "Uvicorn running" in line or len(seen) > 200:
                break
        assert seen[-1].startswith("WARNING auth.secret: weak secret"), "".join(seen)
        assert PUBLISHED not in "".join(seen)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the demo ---------------------------------------------------------------------------------


def _demo_module() -> object:
    spec = importlib.util.spec_from_file_location("saas_demo", SAAS / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_generates_its_own_secrets_once(tmp_path: Path) -> None:
    demo = _demo_module()
    path = tmp_path / "var" / "dev-secrets.env"
    first = demo.dev_secrets(path)  # type: ignore[attr-defined]
    assert set(first) == {"JWT_SECRET", "PAYMENTS_WEBHOOK_SECRET"}
    assert demo.dev_secrets(path) == first  # type: ignore[attr-defined]
    assert path.stat().st_mode & 0o077 == 0  # owner only
    assert first != demo.dev_secrets(tmp_path / "other.env")  # type: ignore[attr-defined]


def test_the_demo_with_its_generated_secrets_has_no_weak_secret(tmp_path: Path) -> None:
    generated = _demo_module().dev_secrets(tmp_path / "s.env")  # type: ignore[attr-defined]
    result = rainmaker("check", "--app", str(SAAS), env=generated)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "weak secret" not in result.stdout


def test_the_demo_production_profile_reports_no_insecure_default() -> None:
    result = rainmaker("check", "--app", str(SAAS), "--profile", "production", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in result.stdout.lower(), result.stdout


def test_the_demo_production_profile_refuses_the_published_example_secret() -> None:
    example = dict(
        line.split("=", 1)
        for line in (SAAS / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    env = {**production_env(), "JWT_SECRET": example["JWT_SECRET"]}
    result = rainmaker("check", "--app", str(SAAS), "--profile", "production", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "auth.secret" in result.stdout + result.stderr
