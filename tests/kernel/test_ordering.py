"""The stable topological sort behind the start order and the middleware order."""

from __future__ import annotations

import pytest

from rainmaker import OrderingCycleError, topological_order
from tests.kernel.fakes import make_app


def test_given_order_is_kept_without_edges() -> None:
    assert topological_order(["c", "a", "b"], []) == ["c", "a", "b"]


def test_a_released_node_goes_as_early_as_its_constraints_allow() -> None:
    # "a after b": a follows b at once and c keeps its place (waves would put c before a).
    assert topological_order(["a", "b", "c"], [("b", "a")]) == ["b", "a", "c"]


def test_edges_are_honoured_and_duplicates_harmless() -> None:
    edges = [("c", "a"), ("c", "b"), ("c", "a"), ("a", "b")]
    assert topological_order(["a", "b", "c"], edges) == ["c", "a", "b"]


def test_a_cycle_names_its_nodes_each_before_the_next() -> None:
    with pytest.raises(OrderingCycleError) as caught:
        topological_order(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a")])
    assert caught.value.cycle == ["a", "b", "c", "a"]


def test_a_node_depending_on_a_cycle_is_not_part_of_it() -> None:
    with pytest.raises(OrderingCycleError) as caught:
        topological_order(["d", "a", "b"], [("a", "d"), ("b", "a"), ("a", "b")])
    assert caught.value.cycle in (["a", "b", "a"], ["b", "a", "b"])


def test_unknown_or_repeated_nodes_are_refused() -> None:
    with pytest.raises(ValueError, match="given twice"):
        topological_order(["a", "a"], [])
    with pytest.raises(ValueError, match="'z', not a given node"):
        topological_order(["a"], [("a", "z")])


def test_start_order_keeps_composition_order_among_equals() -> None:
    from rainmaker import Module, Pattern, Settings
    from tests.kernel.fakes import catalog

    free = Pattern(id="fake-free", version="1.0.0", name="f", settings=Settings, factory=Module)
    app = make_app(
        '[app]\nname = "t"\n[patterns.users]\nuse = "fake-user"\n'
        '[patterns.db]\nuse = "fake-store"\n[patterns.free]\nuse = "fake-free"\n',
        patterns=catalog(free),
    )
    # users needs db, free needs nothing: users is composed before free and starts before it.
    assert app.order == ["db", "users", "free"]
