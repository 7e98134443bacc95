"""The reference pages document every public name and every fixture of the pytest plugin.

The site is built once; each page must show each public name of its module with the first
line of its docstring (so a new export without a docstring, or a page that forgets it,
fails here), and the plugin's page every fixture pytest itself sees in the plugin module.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from _pytest.fixtures import FixtureFunctionDefinition  # what pytest makes of @fixture
from markupsafe import escape  # how the templates escape (Jinja2's)

from rainmaker import Capability
from rainmaker.docs.reference import REFERENCE_MODULES, first_line, public_names
from rainmaker.docs.site import build_site

SURFACE = ("rainmaker", "rainmaker.capabilities", "rainmaker.testing")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "site"
    build_site(out)
    return out


def page(site: Path, module: str) -> str:
    return (site / "reference" / f"{module}.html").read_text(encoding="utf-8")


def test_the_public_surface_and_every_capability_module_have_a_page() -> None:
    import rainmaker.capabilities as capabilities

    for name in SURFACE:
        assert name in REFERENCE_MODULES
    for value in vars(capabilities).values():
        module = getattr(value, "__module__", "")
        if module.startswith("rainmaker.capabilities."):
            assert module in REFERENCE_MODULES, f"{module} has no reference page"


@pytest.mark.parametrize("module", REFERENCE_MODULES)
def test_every_public_name_appears_with_its_summary(site: Path, module: str) -> None:
    text = page(site, module)
    imported = importlib.import_module(module)
    names = getattr(imported, "__all__", None) or public_names(imported)
    if not names:  # a package that only gathers modules: its page links them
        children = [m for m in REFERENCE_MODULES if m.startswith(module + ".")]
        assert children, f"{module} documents no name and no module"
        assert all(
            f'href="{child}.html"' in text
            for child in children
            if child.count(".") == module.count(".") + 1
        )
    for name in names:
        value = getattr(imported, name)
        assert f'id="{name}"' in text, f"{module}.{name} is missing"
        if isinstance(value, Capability):
            summary = first_line(value.description)
        elif inspect.isclass(value) or inspect.isfunction(value):
            summary = first_line(inspect.getdoc(value) or "")
        else:
            continue  # a plain value: listed, documented when its module gives it a string
        assert summary, f"{module}.{name} has no docstring"
        assert str(escape(summary)) in text, f"{module}.{name}: {summary!r}"


def test_every_fixture_of_the_plugin_is_listed_with_its_docstring(site: Path) -> None:
    import rainmaker.testing.plugin as plugin

    fixtures = {
        name: value
        for name, value in vars(plugin).items()
        if isinstance(value, FixtureFunctionDefinition)
    }
    assert {"pattern_loader", "compose", "http_client", "postgres_url", "redis_url"} <= set(
        fixtures
    )
    text = page(site, "rainmaker.testing.plugin")
    for name, value in fixtures.items():
        assert f'id="{name}"' in text, f"fixture {name} is missing"
        summary = first_line(value._get_wrapped_function().__doc__ or "")
        assert summary, f"fixture {name} has no docstring"
        assert str(escape(summary)) in text


def test_the_index_and_the_sidebar_link_every_page(site: Path) -> None:
    index = (site / "reference" / "index.html").read_text(encoding="utf-8")
    home = (site / "index.html").read_text(encoding="utf-8")
    for module in REFERENCE_MODULES:
        assert f'href="{module}.html"' in index
        assert f'href="reference/{module}.html"' in home
