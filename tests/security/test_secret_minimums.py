"""The secrets that sign tokens and webhooks declare ``min_entropy_bits = 128`` (issue 19
follow-up, finding 6): auth-jwt's signing secret (``secret`` and each key of ``keys``) and
both payment providers' ``webhook_secret``.

The default floor (40 bits) stops words and short passwords, not a 20-character secret
(about 80 bits by the estimate) that signs webhooks granting a paid plan. 128 bits by the
estimate (length times the value's own Shannon entropy per character) is what a
generated secret of 32+ URL-safe characters scores; HS256 keys should be 256 bits anyway
(RFC 7518 §3.2), so 32 hex characters (128 real bits, ~115 by the estimate) are refused
too. Refused outside development, a warning in development, through the installed
``rainmaker`` script.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from rainmaker.kernel.secret_strength import estimated_entropy_bits

SCRIPT = Path(sys.executable).with_name("rainmaker")
STRONG = secrets.token_urlsafe(48)


def _check(
    folder: Path, *args: str, jwt: str = STRONG, webhook: str = STRONG
) -> subprocess.CompletedProcess[str]:
    """``rainmaker check``, the secrets passed through the environment as an operator does
    (a literal in rainmaker.toml would be reported as published)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAINMAKER")}
    return subprocess.run(
        [str(SCRIPT), "check", "--app", str(folder), *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200", "NO_COLOR": "1", "JWT": jwt, "WEBHOOK": webhook},
        timeout=120,
    )


def _app(folder: Path, *, keys: bool = False) -> Path:
    auth = (
        '[[patterns.auth.keys]]\nkid = "k1"\nalgorithm = "HS256"\nsecret = "${JWT}"\n'
        if keys
        else 'secret = "${JWT}"\n'
    )
    head, _, ring = auth.partition("[[")
    (folder / "rainmaker.toml").write_text(
        '[app]\nname = "minimums"\n\n'
        '[patterns.db]\nuse = "database-sqlite"\npath = "m.db"\n\n'
        '[patterns.web]\nuse = "framework-fastapi"\n\n'
        f'[patterns.pay]\nuse = "payment-local"\nwebhook_secret = "${{WEBHOOK}}"\n\n'
        f'[patterns.auth]\nuse = "auth-jwt"\n{head}'
        + (f'active_key = "k1"\n\n[[{ring}' if ring else "")
        + '\n[profiles.production.app]\nlog_format = "json"\n'
    )
    return folder


def _twenty() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, ~80 bits by the estimate


def test_a_twenty_character_webhook_secret_is_refused_outside_development(
    tmp_path: Path,
) -> None:
    weak = _twenty()
    assert len(weak) == 20 and 40 < estimated_entropy_bits(weak) < 128
    app = _app(tmp_path)
    production = _check(app, "--profile", "production", webhook=weak)
    shown = production.stdout + production.stderr
    assert production.returncode == 2, shown
    assert "pay.webhook_secret" in shown and "weak secret" in shown
    assert weak not in shown and "Traceback" not in shown
    development = _check(app, webhook=weak)
    assert development.returncode == 0, development.stdout + development.stderr
    assert "pay.webhook_secret: weak secret" in development.stdout


@pytest.mark.parametrize("keys", [False, True], ids=["secret", "keys"])
def test_a_short_hmac_key_is_refused_outside_development(tmp_path: Path, keys: bool) -> None:
    """A 32-character hex key passes auth-jwt's length rule (32+) but not 128 bits."""
    weak = secrets.token_hex(16)
    production = _check(_app(tmp_path, keys=keys), "--profile", "production", jwt=weak)
    shown = production.stdout + production.stderr
    assert production.returncode == 2, shown
    assert "auth." in shown and "weak secret" in shown and weak not in shown
    assert "pay.webhook_secret" not in shown  # the strong one is not reported


def test_a_twenty_character_signing_secret_is_refused_everywhere(tmp_path: Path) -> None:
    """auth-jwt's own length rule already refuses it, in every profile (exit 2)."""
    result = _check(_app(tmp_path), jwt=_twenty())
    assert result.returncode == 2, result.stdout + result.stderr
    assert "32" in result.stdout + result.stderr


def test_generated_secrets_pass(tmp_path: Path) -> None:
    production = _check(_app(tmp_path), "--profile", "production")
    assert production.returncode == 0, production.stdout + production.stderr
    assert "weak secret" not in production.stdout
