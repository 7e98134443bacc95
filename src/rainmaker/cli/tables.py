"""Tables that never cut what people copy from them.

Pattern ids, instance names, keys and environment variable names are copied from the
commands' tables into files and shells, so they are never wrapped or shortened with "…":
only the prose columns (names, descriptions) fold to fit. A table that cannot fit the
terminal that way is printed wider than it (the terminal wraps the lines; nothing is lost),
and output that is not a terminal (a pipe, a file) gets each row on one line.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

UNBOUNDED = 10_000


def new_table(title: str, columns: Sequence[str], *, prose: Collection[str] = ()) -> Table:
    """A table whose columns never wrap, except the ``prose`` ones."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, no_wrap=column not in prose)
    return table


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` wide enough that no identifier column is cut."""
    natural = Measurement.get(console, console.options.update_width(UNBOUNDED), table)
    needed = natural.minimum if console.is_terminal else natural.maximum
    width = console.width
    console.width = max(width, needed)
    try:
        console.print(table)
    finally:
        console.width = width
