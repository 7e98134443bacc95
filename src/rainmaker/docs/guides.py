"""Guides: Markdown files rendered to HTML, and their code blocks for the test suite.

Rendering uses markdown-it-py (CommonMark plus tables), which Rich already depends on, so
guides add no dependency. A fence's info string is ``<language> [illustrative]``: the
guides' tests run every block of a known language unless it is marked ``illustrative``
(a sketch that cannot run on its own), and the mark is not shown to readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

ILLUSTRATIVE = "illustrative"


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: its language, flags after it, text, and 1-based first line."""

    language: str
    flags: frozenset[str]
    code: str
    line: int

    @property
    def illustrative(self) -> bool:
        """Marked as a sketch: shown to readers, not run by the tests."""
        return ILLUSTRATIVE in self.flags


@dataclass(frozen=True)
class Guide:
    """A guide: its file stem (the page name), its title (first heading) and HTML body."""

    name: str
    title: str
    html: str


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("link_open", _render_link)
    return md


def _render_fence(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    language = token.info.split()[0] if token.info.strip() else ""
    css = f' class="language-{escape(language)}"' if language else ""
    return f"<pre><code{css}>{escape(token.content)}</code></pre>\n"


def _render_link(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[idx]
    href = str(token.attrs.get("href", ""))
    if href.endswith(".md") and "://" not in href:
        # Guides link to each other by file; the site serves them as pages.
        token.attrSet("href", href[: -len(".md")] + ".html")
    return self.renderToken(tokens, idx, options, env)


def code_blocks(text: str) -> list[CodeBlock]:
    """Every fenced code block of a Markdown text, in order."""
    blocks = []
    for token in _markdown().parse(text):
        if token.type != "fence":
            continue
        words = token.info.split()
        blocks.append(
            CodeBlock(
                language=words[0] if words else "",
                flags=frozenset(words[1:]),
                code=token.content,
                line=(token.map[0] + 1) if token.map else 0,
            )
        )
    return blocks


def render_markdown(text: str) -> str:
    """CommonMark (with tables, without raw HTML) as HTML, as the guides are rendered."""
    return str(_markdown().render(text))


def render_guide(path: Path) -> Guide:
    """The guide at ``path`` as HTML, titled by its first heading."""
    text = path.read_text(encoding="utf-8")
    tokens = _markdown().parse(text)
    title = path.stem.replace("-", " ").capitalize()
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and index + 1 < len(tokens):
            title = tokens[index + 1].content
            break
    md = _markdown()
    env: dict[str, Any] = {}
    return Guide(name=path.stem, title=title, html=md.renderer.render(tokens, md.options, env))


def guide_files(folder: Path) -> list[Path]:
    """The guides in ``folder`` (``*.md``), by file name."""
    return sorted(folder.glob("*.md")) if folder.is_dir() else []
