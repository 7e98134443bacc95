"""The dependency graph as inline SVG: no JavaScript, no Graphviz, no CDN.

Mermaid would need its script from a CDN (which neither offline readers nor our CI can
reach) and Graphviz a system binary; a composition's graph is small and layered, so a
simple layout done here is enough. Providers sit above the instances that require them:
an instance's row is one below the lowest row of its providers, and within a row the
instances keep their start order. The output depends only on the input, so rebuilds are
byte-identical.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from rainmaker.kernel.app_view import AppView
from rainmaker.kernel.application import Application

NODE_WIDTH = 220
NODE_HEIGHT = 50
COLUMN_GAP = 40
ROW_GAP = 70
MARGIN = 20


@dataclass(frozen=True)
class Node:
    """One instance: its name and the second line under it (pattern id and version)."""

    name: str
    detail: str


@dataclass(frozen=True)
class Edge:
    """``dependent`` requires ``capability`` from ``provider``."""

    dependent: str
    capability: str
    provider: str


def graph_of(application: Application | AppView) -> tuple[list[Node], list[Edge]]:
    """The nodes (in start order) and edges of an app's resolved composition."""
    nodes = [
        Node(instance.name, f"{instance.pattern.id} {instance.pattern.version}")
        for instance in application.instances.values()
    ]
    edges = [
        Edge(instance.name, capability, provider)
        for instance in application.instances.values()
        for capability, provider in sorted(instance.bindings.items())
    ]
    return nodes, edges


def rows_of(nodes: Sequence[Node], edges: Sequence[Edge]) -> dict[str, int]:
    """Each node's row: 0 without providers, else one more than its lowest provider."""
    providers: dict[str, list[str]] = {node.name: [] for node in nodes}
    for edge in edges:
        if edge.dependent in providers and edge.provider in providers:
            providers[edge.dependent].append(edge.provider)
    rows: dict[str, int] = {}

    def row(name: str, seen: frozenset[str]) -> int:
        if name not in rows:
            # ``seen`` guards against a cycle, which resolution rejects anyway.
            above = [row(p, seen | {name}) for p in providers[name] if p not in seen]
            rows[name] = 1 + max(above) if above else 0
        return rows[name]

    for node in nodes:
        row(node.name, frozenset())
    return rows


def dependency_svg(
    nodes: Sequence[Node],
    edges: Sequence[Edge],
    *,
    classes: Mapping[str, str] | None = None,
    title: str = "Dependency graph",
) -> str:
    """An ``<svg>`` element drawing ``nodes`` and ``edges``.

    ``classes`` adds a CSS class to a node's group (the dashboard colours nodes by health).
    """
    classes = classes or {}
    rows = rows_of(nodes, edges)
    by_row: dict[int, list[Node]] = {}
    for node in nodes:
        by_row.setdefault(rows[node.name], []).append(node)
    widest = max((len(row) for row in by_row.values()), default=1)
    width = 2 * MARGIN + widest * NODE_WIDTH + (widest - 1) * COLUMN_GAP
    height = 2 * MARGIN + len(by_row) * NODE_HEIGHT + max(len(by_row) - 1, 0) * ROW_GAP
    positions: dict[str, tuple[int, int]] = {}
    for row_number, row_nodes in sorted(by_row.items()):
        used = len(row_nodes) * NODE_WIDTH + (len(row_nodes) - 1) * COLUMN_GAP
        left = (width - used) // 2  # centre each row
        for column, node in enumerate(row_nodes):
            x = left + column * (NODE_WIDTH + COLUMN_GAP)
            positions[node.name] = (x, MARGIN + row_number * (NODE_HEIGHT + ROW_GAP))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" role="img" '
        f'viewBox="0 0 {width} {max(height, NODE_HEIGHT + 2 * MARGIN)}" '
        f'width="{width}" height="{max(height, NODE_HEIGHT + 2 * MARGIN)}">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#56607a"/></marker></defs>',
    ]
    for edge in edges:
        if edge.dependent not in positions or edge.provider not in positions:
            continue
        dx, dy = positions[edge.dependent]
        px, py = positions[edge.provider]
        x1, y1 = dx + NODE_WIDTH // 2, dy
        x2, y2 = px + NODE_WIDTH // 2, py + NODE_HEIGHT
        label_x, label_y = (x1 + x2) // 2, (y1 + y2) // 2
        parts.append(
            f'<g class="edge"><line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#56607a" '
            f'stroke-width="1.5" marker-end="url(#arrow)"/>'
            f'<text x="{label_x}" y="{label_y}" text-anchor="middle" font-size="12" '
            f'fill="#33394a" stroke="#ffffff" stroke-width="4" paint-order="stroke">'
            f"{escape(edge.capability)}</text></g>"
        )
    for node in nodes:
        x, y = positions[node.name]
        extra = f" {escape(classes[node.name])}" if node.name in classes else ""
        parts.append(
            f'<g class="node{extra}" data-instance="{escape(node.name)}">'
            f'<rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="8" '
            f'fill="#eef2fb" stroke="#3d5a99" stroke-width="1.5"/>'
            f'<text x="{x + NODE_WIDTH // 2}" y="{y + 21}" text-anchor="middle" '
            f'font-size="14" font-weight="bold" fill="#1d2433">{escape(node.name)}</text>'
            f'<text x="{x + NODE_WIDTH // 2}" y="{y + 39}" text-anchor="middle" '
            f'font-size="12" fill="#4a5368">{escape(node.detail)}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
