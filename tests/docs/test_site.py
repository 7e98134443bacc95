"""The generated site: every composed pattern and settings field, determinism, the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import rainmaker
from rainmaker.cli import docs as docs_cli
from rainmaker.docs.settings_reference import settings_rows
from rainmaker.docs.site import MARKER, OutputFolderError, build_site
from rainmaker.kernel.graph_svg import Edge, Node, dependency_svg, rows_of
from rainmaker.kernel.secrets import MASK
from rainmaker.patterns.http.settings import HttpSettings
from rainmaker.patterns.storage.settings import S3StorageSettings

REPO = Path(__file__).resolve().parents[2]
STARTER = REPO / "examples" / "starter"
GUIDES = REPO / "docs" / "guides"


@pytest.fixture(scope="module")
def starter() -> rainmaker.Application:
    return rainmaker.load(STARTER, configure_logs=False, environ={})


@pytest.fixture(scope="module")
def site(starter: rainmaker.Application, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build_site(out, application=starter, guides=GUIDES)
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_a_page_for_every_composed_pattern_with_every_settings_field(
    starter: rainmaker.Application, site: Path
) -> None:
    assert len(starter.instances) >= 3
    for instance in starter.instances.values():
        page = (site / "patterns" / f"{instance.pattern.id}.html").read_text()
        assert f"<code>{instance.pattern.id}</code>" in page
        rows = settings_rows(instance.pattern.settings, instance.name)
        assert rows
        for row in rows:
            assert f'id="setting-{row.key}"' in page, (instance.pattern.id, row.key)
            assert row.environment in page
        assert f"RAINMAKER__{instance.name.upper()}__" in page


def test_pattern_page_shows_routes_migrations_and_examples(site: Path) -> None:
    sqlite = (site / "patterns" / "database-sqlite.html").read_text()
    assert "rainmaker.patterns.database.migrations" in sqlite
    assert "Create the transactional outbox." in sqlite
    example = '<code class="language-toml">[patterns.database]\nuse = &#34;database-sqlite&#34;'
    assert example in sqlite
    web = (site / "patterns" / "framework-fastapi.html").read_text()
    assert "/health/ready" in web and "Readiness: running and every pattern up" in web
    hello = (site / "patterns" / "hello.html").read_text()
    assert "<code>/hello</code>" in hello  # the app-local pattern, from OpenAPI


def test_a_pattern_not_in_the_app_gets_its_routes_from_a_sample_app(site: Path) -> None:
    page = (site / "patterns" / "storage-local.html").read_text()
    assert "<code>/files/{key}</code>" in page
    assert "with the settings of its examples" in page


def test_composition_page(starter: rainmaker.Application, site: Path) -> None:
    page = (site / "composition.html").read_text()
    assert "<svg" in page
    for position, name in enumerate(starter.order, start=1):
        assert f'data-instance="{name}"' in page
        assert re.search(rf"<td>{position}</td><td><code>{name}</code>", page)
    for path in ("/hello", "/health/live", "/health/ready", "/openapi.json"):
        assert f"<code>{path}</code>" in page
    env = (site / ".env.example").read_text()
    assert "RAINMAKER__DB__PATH" in env and "DATABASE_URL=" in env  # production's variable
    assert "RAINMAKER__HELLO__GREETING" in env


def test_guides_are_pages(site: Path) -> None:
    guides = sorted(path.stem for path in (site / "guides").glob("*.html"))
    assert guides == sorted(path.stem for path in GUIDES.glob("*.md"))
    quickstart = (site / "guides" / "quickstart.html").read_text()
    assert "<h1>Quickstart</h1>" in quickstart
    assert "illustrative\"" not in quickstart  # the mark is for the tests, not for readers
    assert '<pre><code class="language-console">$ rainmaker run' in quickstart
    assert 'href="composing-an-app.html"' in quickstart  # .md links become pages


def test_rebuild_is_byte_identical(
    starter: rainmaker.Application, site: Path, tmp_path: Path
) -> None:
    first = _files(site)
    again = rainmaker.load(STARTER, configure_logs=False, environ={})
    build_site(tmp_path / "other", application=again, guides=GUIDES)
    assert _files(tmp_path / "other") == first
    build_site(site, application=again, guides=GUIDES)  # in place, over the old build
    assert _files(site) == first


def test_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match="not empty"):
        build_site(tmp_path, application=None)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_catalog_only_site(tmp_path: Path) -> None:
    build_site(tmp_path / "site")
    assert (tmp_path / "site" / MARKER).exists()
    assert not (tmp_path / "site" / "composition.html").exists()
    assert (tmp_path / "site" / "patterns" / "framework-fastapi.html").exists()


def test_settings_rows_types_constraints_and_secrets() -> None:
    rows = {row.key: row for row in settings_rows(S3StorageSettings, "files")}
    bucket = rows["bucket"]
    assert bucket.required and bucket.type == "string"
    assert "length ≥ 3" in bucket.constraints and "length ≤ 63" in bucket.constraints
    assert rows["secret_key"].secret and rows["secret_key"].type.startswith("secret string")
    assert rows["part_size"].constraints == ("≥ 5242880", "≤ 5368709120")
    assert rows["region"].environment == "RAINMAKER__FILES__REGION"
    nested = {row.key: row for row in settings_rows(HttpSettings)}
    assert nested["cors.max_age"].environment == "RAINMAKER__<INSTANCE>__CORS__MAX_AGE"
    assert nested["health.detail"].type == '"public" | "loopback" | "off"'
    assert not nested["cors.allow_credentials"].secret  # a flag named like a secret


def test_secret_defaults_are_masked() -> None:
    from pydantic import Field, SecretStr

    from rainmaker import Settings

    class WithDefault(Settings):
        token: SecretStr = Field(SecretStr("built-in-default-token"), description="x")

    [row] = settings_rows(WithDefault)
    assert row.default == MASK and row.secret


def test_defaults_and_examples_read_as_toml_like_config_show() -> None:
    from datetime import timedelta

    from pydantic import BaseModel, Field

    from rainmaker import Settings, display_setting

    class Inner(BaseModel):
        size: int = 3

    class Shown(Settings):
        enabled: bool = True
        ttl: timedelta = Field(timedelta(minutes=15), examples=[timedelta(hours=1)])
        name: str = Field("rainmaker", examples=["acme"])
        note: str | None = None
        inner: Inner = Inner()
        tags: list[str] = ["a", "b"]

    rows = {row.key: row for row in settings_rows(Shown)}
    assert rows["enabled"].default == "true"
    assert rows["ttl"].default == "900" and rows["ttl"].examples == ("3600",)
    assert rows["name"].default == '"rainmaker"' and rows["name"].examples == ('"acme"',)
    assert rows["note"].default == "(not set)"
    assert rows["tags"].default == '["a", "b"]'
    assert rows["inner.size"].default == "3"
    for key in ("enabled", "ttl", "name", "note", "tags"):  # the very text config show writes
        value = Shown.model_fields[key].get_default(call_default_factory=True)
        assert rows[key].default == display_setting(Shown, key, value)


def test_graph_puts_providers_above_dependents() -> None:
    nodes = [Node("db", "d"), Node("auth", "a"), Node("web", "w"), Node("mail", "m")]
    edges = [Edge("auth", "Database", "db"), Edge("auth", "Mailer", "mail")]
    assert rows_of(nodes, edges) == {"db": 0, "auth": 1, "web": 0, "mail": 0}
    svg = dependency_svg(nodes, edges)
    assert svg.count('class="node') == 4 and svg.count('class="edge"') == 2
    assert ">Database</text>" in svg and svg == dependency_svg(nodes, edges)


def test_cli_build(tmp_path: Path) -> None:
    cli = typer.Typer()
    docs_cli.register(cli)
    cli.command("noop")(lambda: None)  # a second command keeps "docs" a group
    out = tmp_path / "site"
    result = CliRunner().invoke(
        cli, ["docs", "build", "--app", str(STARTER), "--out", str(out)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "pages for starter" in result.output
    assert (out / "composition.html").exists() and (out / ".env.example").exists()


def test_served_site(site: Path) -> None:
    import threading
    import urllib.request

    from rainmaker.docs.serve import site_server

    with site_server(site, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.server_address[1]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/composition.html") as answer:
                assert answer.read() == (site / "composition.html").read_bytes()
        finally:
            server.shutdown()
            thread.join()
