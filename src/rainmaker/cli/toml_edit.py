"""Editing ``rainmaker.toml`` in place: tables in and out, the user's comments and layout kept.

tomlkit round-trips a TOML file exactly, but it files a comment line under the table *above*
it, while people write a comment above the table it describes::

    [patterns.hello]
    use = "hello"

    # Production overrides go in profiles      <- tomlkit: part of [patterns.hello]
    [profiles.production.app]

So a table is added before the comment block that leads the next header, and a removed
table takes its own leading comment with it while the block leading the header after it
stays. Every edit is checked by parsing the result again: the data must be exactly the
intended change, or nothing is written.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Comment, Item, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from rainmaker.kernel.errors import CompositionError, Problem


class EditError(Exception):
    """An edit would not give the intended file; nothing was written."""


def read_document(path: Path) -> TOMLDocument:
    """The composition file as an editable document (a missing or broken file is a problem)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CompositionError(
            [
                Problem(
                    f"no composition file at {path}",
                    fix="pass --app PATH pointing at a folder with rainmaker.toml, "
                    "or create one with `rainmaker new NAME`",
                )
            ]
        ) from None
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise CompositionError(
            [Problem(f"{path.name} is not valid TOML: {exc}", fix="correct the TOML syntax")]
        ) from None


def write_document(path: Path, document: TOMLDocument, expected: dict[str, Any]) -> None:
    """Write ``document`` when it reads back as ``expected`` (else raise :class:`EditError`).

    Empty tables do not count: a header-less table left empty is not written at all.
    """
    text = tomlkit.dumps(document)
    if _pruned(tomllib.loads(text)) != _pruned(expected):
        raise EditError(f"editing {path} would change more than intended; it was left as it was")
    path.write_text(text, encoding="utf-8")


def plain(document: TOMLDocument) -> dict[str, Any]:
    """The document's data as plain Python values (what ``tomllib`` reads)."""
    return tomllib.loads(tomlkit.dumps(document))


def _pruned(data: dict[str, Any]) -> dict[str, Any]:
    pruned = {}
    for key, value in data.items():
        if isinstance(value, dict):
            value = _pruned(value)
            if not value:
                continue
        pruned[key] = value
    return pruned


@dataclass(frozen=True)
class _Placed:
    """A keyed item where it physically is: the table (or document) holding it, its key and
    its dotted path."""

    owner: Table | TOMLDocument
    key: str
    item: Item
    path: tuple[str, ...]


def _walk(owner: Table | TOMLDocument, path: tuple[str, ...] = ()) -> Iterator[_Placed]:
    """Every keyed item in file order, descending into tables (super tables have no header).

    This walks the physical layout: a table split over several places of the file (out of
    order) is met in each of them, never merged as ``document[key]`` shows it.
    """
    container: Container = owner if isinstance(owner, TOMLDocument) else owner.value
    for key, item in list(container.body):
        if key is None:
            continue
        placed = _Placed(owner, key.key, item, (*path, key.key))
        yield placed
        if isinstance(item, Table):
            yield from _walk(item, placed.path)
        elif isinstance(item, AoT):
            for element in item.body:
                yield from _walk(element, placed.path)


def _headers(document: TOMLDocument) -> list[Table]:
    """Tables that have a ``[header]`` line, in file order."""
    found: list[Table] = []
    for placed in _walk(document):
        if isinstance(placed.item, Table) and not placed.item.is_super_table():
            found.append(placed.item)
        elif isinstance(placed.item, AoT):
            found.extend(placed.item.body)
    return found


def _pop_leading_comments(table: Table) -> list[Item]:
    """Take the comment lines that end ``table``'s body: they lead the next header."""
    body = table.value.body
    taken: list[Item] = []
    while body and body[-1][0] is None and isinstance(body[-1][1], Comment):
        taken.insert(0, body.pop()[1])
    return taken


def _ensure_blank_line(table: Table) -> None:
    body = table.value.body
    if not body or not (isinstance(body[-1][1], Whitespace) and "\n" in body[-1][1].s):
        table.value.append(None, Whitespace("\n"))


def _subtree_last_header(headers: list[Table], table: Table) -> Table:
    """The last header inside ``table``'s subtree (``table`` itself when it has no children)."""
    start = next(i for i, h in enumerate(headers) if h is table)
    last = table
    for header in headers[start + 1 :]:
        if not _inside(header, table):
            break
        last = header
    return last


def _inside(header: Table, ancestor: Table) -> bool:
    return any(item is header for item in _descendants(ancestor))


def _descendants(table: Table) -> Iterator[Item]:
    for _, item in table.value.body:
        if isinstance(item, Table):
            yield item
            yield from _descendants(item)
        elif isinstance(item, AoT):
            for element in item.body:
                yield element
                yield from _descendants(element)


def add_table(document: TOMLDocument, parent: str, name: str, table: Table) -> None:
    """Add ``[parent.name]`` after the last ``[parent.*]`` table (a new ``parent`` if none)."""
    supers = [
        placed
        for placed in _walk(document)
        if placed.path == (parent,) and isinstance(placed.item, Table)
    ]
    if not supers:
        document.append(parent, tomlkit.table(is_super_table=True))
        supers = [p for p in _walk(document) if p.path == (parent,)]
    target = supers[-1].item  # the last [parent.*] block, when the file has several
    assert isinstance(target, Table)
    headers = _headers(document)
    inner = [h for h in headers if _inside(h, target)]
    moved: list[Item] = []
    last = inner[-1] if inner else None if target.is_super_table() else target
    if last is not None:
        moved = _pop_leading_comments(last)
        _ensure_blank_line(last)
    table.value.append(None, Whitespace("\n"))  # the blank line before the next header
    for item in moved:
        table.value.append(None, item)
    target.append(name, table)
    if not moved and tomlkit.dumps(document).endswith("\n\n"):
        table.value.body.pop()  # nothing follows: the file ends with the table


def remove_table(document: TOMLDocument, path: tuple[str, ...]) -> bool:
    """Remove every piece of the table at ``path`` (header tables, dotted keys, inline tables);
    ``path`` has at least two parts.

    A removed header table takes the comment lines just above it; the comment lines that
    lead the header after it are kept. Returns whether anything was removed.
    """
    pieces = [placed for placed in _walk(document) if placed.path == path]
    for placed in pieces:
        item = placed.item
        if isinstance(item, Table) and not item.is_super_table():
            headers = _headers(document)
            position = next(i for i, h in enumerate(headers) if h is item)
            following = _pop_leading_comments(_subtree_last_header(headers, item))
            if position > 0:
                previous = headers[position - 1]
                _pop_leading_comments(previous)  # they introduced the removed table
                for comment in following:
                    previous.value.append(None, comment)
        _delete(placed)
    return bool(pieces)


def _delete(placed: _Placed) -> None:
    # Only nested tables are removed ([patterns.x], [profiles.p.patterns.x]): a document
    # would delete every top-level piece of that name at once.
    if isinstance(placed.owner, TOMLDocument):
        raise EditError(f"refusing to remove the top-level table [{placed.key}]")
    del placed.owner[placed.key]
