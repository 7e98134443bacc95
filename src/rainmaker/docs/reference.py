"""API reference pages: one per public module, generated from its docstrings with ``inspect``.

Why not mkdocstrings or Sphinx autodoc: the site generator already renders Jinja2 pages
from Python objects, and the public surface is small (``rainmaker``, the capability
modules, the testing kit); a page per module with each public name's signature and
docstring is what an author needs, and it stays byte-identical from one build to the next.

A module's public names are its ``__all__`` when it has one; otherwise the classes and
functions it defines and its annotated module-level values (``Database: Capability[...]``).
The pytest plugin's page lists every fixture with its scope and docstring. A module that
cannot be imported here (the testing extra is missing, say) gets a page that says why
instead of breaking the build.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

REFERENCE_MODULES: tuple[str, ...] = (
    "rainmaker",
    "rainmaker.capabilities",
    "rainmaker.capabilities.api_keys",
    "rainmaker.capabilities.auth",
    "rainmaker.capabilities.cache",
    "rainmaker.capabilities.credentials",
    "rainmaker.capabilities.database",
    "rainmaker.capabilities.http",
    "rainmaker.capabilities.jobs",
    "rainmaker.capabilities.mailer",
    "rainmaker.capabilities.organizations",
    "rainmaker.capabilities.payments",
    "rainmaker.capabilities.rate_limits",
    "rainmaker.capabilities.storage",
    "rainmaker.capabilities.tracing",
    "rainmaker.testing",
    "rainmaker.testing.harness",
    "rainmaker.testing.plugin",
    "rainmaker.testing.servers",
    "rainmaker.testing.browser",
    "rainmaker.testing.proxy",
    "rainmaker.testing.contracts",
    "rainmaker.testing.contracts.api_keys",
    "rainmaker.testing.contracts.cache",
    "rainmaker.testing.contracts.database",
    "rainmaker.testing.contracts.jobs",
    "rainmaker.testing.contracts.mailer",
    "rainmaker.testing.contracts.organizations",
    "rainmaker.testing.contracts.payments",
    "rainmaker.testing.contracts.rate_limits",
    "rainmaker.testing.contracts.storage",
)
"""The modules of the public surface, in the order the site lists them."""


@dataclass(frozen=True)
class MemberDoc:
    """A method or property of a documented class."""

    name: str
    signature: str
    doc: str


@dataclass(frozen=True)
class EntryDoc:
    """One public name of a module: its kind, signature and docstring."""

    name: str
    kind: str  # "class", "function", "fixture" or "value"
    signature: str
    doc: str
    members: tuple[MemberDoc, ...] = ()

    @property
    def summary(self) -> str:
        """The docstring's first line (what indexes show)."""
        return first_line(self.doc)


@dataclass(frozen=True)
class ModuleDoc:
    """A reference page: the module's docstring and its public names."""

    name: str
    doc: str
    entries: tuple[EntryDoc, ...] = ()
    fixtures: tuple[EntryDoc, ...] = ()
    problem: str = ""
    children: tuple[str, ...] = field(default=())

    @property
    def file(self) -> str:
        """The page's path in the site."""
        return f"reference/{self.name}.html"

    @property
    def summary(self) -> str:
        return first_line(self.doc)


def first_line(doc: str) -> str:
    """The first line of a docstring (empty for none)."""
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else ""


def is_fixture(value: Any) -> bool:
    """Whether ``value`` is a function decorated with ``@pytest.fixture``.

    By type name, so this module never imports pytest: pytest 8.4+ wraps fixtures in a
    ``FixtureFunctionDefinition``, older versions mark the function itself. (Not
    ``hasattr`` alone: objects such as ``sqlalchemy.func`` answer every attribute.)
    """
    if type(value).__name__ == "FixtureFunctionDefinition":
        return True
    return inspect.isfunction(value) and hasattr(value, "_pytestfixturefunction")


def public_names(module: ModuleType) -> list[str]:
    """The names a module offers: ``__all__``, else what it defines (see the module doc)."""
    declared = getattr(module, "__all__", None)
    if declared is not None:
        return list(declared)
    names = []
    annotated = getattr(module, "__annotations__", {})
    for name, value in vars(module).items():
        if name.startswith("_") or is_fixture(value):
            continue
        defined_here = getattr(value, "__module__", None) == module.__name__
        if (inspect.isclass(value) or inspect.isfunction(value)) and defined_here:
            names.append(name)
        elif name in annotated:
            names.append(name)
    return names


def module_doc(name: str) -> ModuleDoc:
    """The reference of module ``name`` (a page saying why, if it cannot be imported)."""
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        return ModuleDoc(
            name, "", problem=f"not importable here ({error}); install its extra to document it"
        )
    entries = tuple(_entry(module, n, getattr(module, n)) for n in public_names(module))
    fixtures = tuple(_fixture(n, value) for n, value in vars(module).items() if is_fixture(value))
    return ModuleDoc(name, inspect.getdoc(module) or "", entries, fixtures)


def reference_pages(names: Iterable[str] = REFERENCE_MODULES) -> list[ModuleDoc]:
    """A :class:`ModuleDoc` per module, each knowing which of the others are below it."""
    docs = [module_doc(name) for name in names]
    listed = [doc.name for doc in docs]
    return [
        ModuleDoc(
            doc.name,
            doc.doc,
            doc.entries,
            doc.fixtures,
            doc.problem,
            tuple(
                other
                for other in listed
                if other.startswith(doc.name + ".") and "." not in other[len(doc.name) + 1 :]
            ),
        )
        for doc in docs
    ]


def _signature(value: Any) -> str:
    try:
        return str(inspect.signature(value))
    except (TypeError, ValueError):  # builtins and some C types have none
        return ""


def _entry(module: ModuleType, name: str, value: Any) -> EntryDoc:
    if inspect.isclass(value):
        # A protocol is implemented, not constructed: its (*args, **kwargs) says nothing.
        signature = "" if getattr(value, "_is_protocol", False) else _signature(value)
        return EntryDoc(name, "class", signature, inspect.getdoc(value) or "", _members(value))
    if inspect.isfunction(value) or inspect.isbuiltin(value):
        return EntryDoc(name, "function", _signature(value), inspect.getdoc(value) or "")
    # A value: a capability key documents itself by its description; other values by the
    # string literal after their assignment (the convention Sphinx follows), if any.
    description = getattr(value, "description", None)
    doc = description if isinstance(description, str) and description else ""
    doc = doc or attribute_docs(module).get(name, "")
    return EntryDoc(name, "value", f": {type(value).__name__} = {_short_repr(value)}", doc)


def attribute_docs(module: ModuleType) -> dict[str, str]:
    """Module-level ``NAME = value`` assignments followed by a string literal: name -> doc."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return {}
    docs: dict[str, str] = {}
    body = tree.body
    for statement, following in itertools.pairwise(body):
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
        elif isinstance(statement, ast.AnnAssign):
            target = statement.target
        else:
            continue
        if (
            isinstance(target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[target.id] = inspect.cleandoc(following.value.value)
    return docs


def _short_repr(value: Any) -> str:
    text = repr(value)
    if " at 0x" in text:  # a default repr: its address would change the page every build
        return f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def _members(cls: type) -> tuple[MemberDoc, ...]:
    """Public methods and properties the class itself defines, in source order."""
    members = []
    for name, raw in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(raw, property):
            members.append(MemberDoc(name, "(property)", inspect.getdoc(raw) or ""))
        elif isinstance(raw, staticmethod | classmethod):
            function = raw.__func__
            members.append(MemberDoc(name, _signature(function), inspect.getdoc(function) or ""))
        elif inspect.isfunction(raw):
            members.append(MemberDoc(name, _signature(raw), inspect.getdoc(raw) or ""))
    return tuple(members)


def _fixture(name: str, value: Any) -> EntryDoc:
    marker = getattr(value, "_fixture_function_marker", None) or getattr(
        value, "_pytestfixturefunction", None
    )
    scope = getattr(marker, "scope", None) or "function"
    fixture_name = getattr(marker, "name", None) or name
    wrapped = getattr(value, "_get_wrapped_function", None)
    function = wrapped() if callable(wrapped) else value
    return EntryDoc(fixture_name, "fixture", f"(scope: {scope})", inspect.getdoc(function) or "")


def fixture_names(pages: Sequence[ModuleDoc]) -> list[str]:
    """Every fixture documented in ``pages`` (the plugin's, in practice)."""
    return [fixture.name for page in pages for fixture in page.fixtures]
