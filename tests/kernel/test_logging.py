"""Logs are structured, bound with app and pattern, and never carry a secret."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def test_secrets_from_settings_never_reach_a_log_line() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from pathlib import Path
        from rainmaker.kernel.composition import parse_composition
        from rainmaker.kernel.loading import assemble
        from rainmaker.kernel.logging import configure_logging
        from rainmaker.kernel.secrets import secret_values
        from tests.kernel.fakes import catalog

        toml = ('[app]\\nname = "t"\\n[patterns.db]\\nuse = "fake-store"\\n'
                'password = "pa55-word-xyz"\\n')
        app = assemble(parse_composition(toml, root=Path(".")), catalog())
        configure_logging(fmt="json", secrets=secret_values(app.instances["db"].settings))
        async def main():
            async with app.running():
                module = app.instances["db"].module
                module.ctx.log.warning("oops", dsn="postgres://u:pa55-word-xyz@h/db")
                try:
                    raise ValueError("bad password pa55-word-xyz")
                except ValueError:
                    module.ctx.log.exception("failed")
        asyncio.run(main())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "pa55-word-xyz" not in result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    oops = next(line for line in lines if line["event"] == "oops")
    assert oops["app"] == "t" and oops["instance"] == "db" and oops["pattern"] == "fake-store"
    assert oops["dsn"] == "postgres://u:********@h/db"
    failed = next(line for line in lines if line["event"] == "failed")
    assert "ValueError: bad password ********" in failed["exception"]


def test_secret_values_search_nested_models_lists_and_urls() -> None:
    from pydantic import BaseModel, Field, SecretStr

    from rainmaker.kernel.secrets import secret_values

    class Key(BaseModel):
        kid: str
        secret: SecretStr

    class Settings(BaseModel):
        keys: list[Key]
        url: str
        api_token: str = Field(json_schema_extra={"secret": True})  # marked, not named
        token_ttl: str  # named like a secret, typed like none: not one
        extra: dict[str, Key]

    settings = Settings(
        keys=[
            Key(kid="a", secret=SecretStr("first-secret")),
            Key(kid="b", secret=SecretStr("2nd-secret")),
        ],
        url="postgresql://u:url-pass@h/db",
        api_token="tok-123456",
        token_ttl="15 minutes",
        extra={"x": Key(kid="c", secret=SecretStr("third-secret"))},
    )
    assert set(secret_values(settings)) == {
        "first-secret",
        "2nd-secret",
        "url-pass",
        "tok-123456",
        "third-secret",
    }
