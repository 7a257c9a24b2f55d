"""Ale values: keywords, conversion of inputs in and results out, equality of JSON data."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import pytest
from ale_support import ale
from hypothesis import given
from hypothesis import strategies as st

from argyll.errors import ScriptError


def test_keywords_evaluate_to_themselves_and_are_truthy() -> None:
    assert ale("(keyword? :k)") is True
    assert ale("(if :k 1 2)") == 1
    assert ale("(= :k :k)") is True
    assert ale('(= :k "k")') is False


def test_inputs_convert_in_and_results_out() -> None:
    order = {"id": "o-1", "lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}], "meta": None}
    assert ale("order", order=order) == order
    assert ale("(get (first (get order :lines)) :sku)", order=order) == "A"
    assert ale('(get (get order "lines") 1)', order=order) == {"sku": "B", "qty": 1}
    assert ale("(object? order)", order=order) is True
    assert ale("(vector? (get order :lines))", order=order) is True
    assert ale("(keyword? (first (get order :lines)))", order=order) is False


def test_outputs_are_plain_json() -> None:
    result = ale('{:k :v :nested {:list \'(1 :two "three") :vec [nil true]} "s" 1.5}')
    assert result == {
        "k": "v",
        "nested": {"list": [1, "two", "three"], "vec": [None, True]},
        "s": 1.5,
    }
    assert all(type(key) is str for key in result)
    assert type(result["nested"]["list"]) is list


def test_results_do_not_share_data_with_inputs() -> None:
    data = {"xs": [1, 2]}
    result = ale("data", data=data)
    result["xs"].append(3)
    assert data == {"xs": [1, 2]}


def test_tuples_and_subclassed_scalars_are_accepted_as_inputs() -> None:
    class Level(IntEnum):
        HIGH = 4

    assert ale("(vector? xs)", xs=(1, 2)) is True
    assert ale("[(+ n 1) n]", n=Level.HIGH) == [5, 4]
    assert type(ale("n", n=Level.HIGH)) is int


def test_returning_a_function_is_an_error() -> None:
    for source in ["(lambda (x) x)", "+", "[inc]", "{:f (fn [] 1)}"]:
        with pytest.raises(ScriptError) as caught:
            ale(source)
        assert type(caught.value) is ScriptError


def test_inputs_must_be_json_like() -> None:
    with pytest.raises(ScriptError):
        ale("x", x=object())
    with pytest.raises(ScriptError):
        ale("x", x={1: "non-string key"})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_json_values_round_trip_and_equal_themselves(value: Any) -> None:
    assert ale("x", x=value) == value
    assert ale("(= x x)", x=value) is True
