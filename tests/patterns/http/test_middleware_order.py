"""Ordering middleware from before/after constraints."""

from __future__ import annotations

from typing import Any

import pytest

from rainmaker import CompositionError, Middleware
from rainmaker.patterns.http.middleware_order import Contribution, order_middleware


def spec(name: str, *, before: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> Contribution:
    def factory(app: Any) -> Any:
        return app

    return Contribution(Middleware(name, factory, before=before, after=after), f"i_{name}")


def names(items: list[Contribution]) -> list[str]:
    return [item.middleware.name for item in order_middleware(items).layers]


def test_unconstrained_middleware_keep_their_contribution_order() -> None:
    assert names([spec("a"), spec("b"), spec("c")]) == ["a", "b", "c"]


def test_before_and_after_are_honoured() -> None:
    items = [spec("a", after=("c",)), spec("b"), spec("c", before=("b",))]
    assert names(items) == ["c", "a", "b"]


def test_aliases_can_be_targeted() -> None:
    edge = Contribution(Middleware("edge", lambda app: app), "http", aliases=("request-id",))
    assert names([spec("x", before=("request-id",)), edge]) == ["x", "edge"]


def test_unknown_names_are_ignored_with_a_warning() -> None:
    order = order_middleware([spec("a", before=("ghost",))])
    assert [c.middleware.name for c in order.layers] == ["a"]
    assert "ghost" in order.warnings[0]


def test_a_cycle_names_the_chain_and_the_constraints() -> None:
    items = [spec("a", before=("b",)), spec("b", before=("c",)), spec("c", before=("a",))]
    with pytest.raises(CompositionError) as caught:
        order_middleware(items)
    problem = caught.value.problems[0]
    assert problem.message == "middleware order conflict: a -> b -> c -> a"
    assert "a before b (i_a)" in problem.fix and "c before a (i_c)" in problem.fix


def test_a_cycle_is_found_behind_a_dependent_node() -> None:
    # d depends on the cycle but is not part of it; the chain must not include it.
    items = [spec("d", after=("a",)), spec("a", after=("b",)), spec("b", after=("a",))]
    with pytest.raises(CompositionError, match=r"a -> b -> a|b -> a -> b"):
        order_middleware(items)


def test_duplicate_names_are_a_problem() -> None:
    with pytest.raises(CompositionError, match="two middleware are named 'a'"):
        order_middleware([spec("a"), spec("a")])


def test_self_reference_is_a_problem() -> None:
    with pytest.raises(CompositionError, match="run before itself"):
        order_middleware([spec("a", before=("a",))])
