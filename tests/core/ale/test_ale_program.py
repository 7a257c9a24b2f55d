"""Ale programs end to end: the ALE.md examples, compiling once and running many times."""

from __future__ import annotations

from typing import Any

import pytest
from ale_support import ale

from argyll.script.ale import AleProgram, compile_ale

EXAMPLES = [
    ('{:greeting (str "Hello, " name)}', {"name": "Ada"}, {"greeting": "Hello, Ada"}),
    ("(> amount 100)", {"amount": 150}, True),
    ("(> amount 100)", {"amount": 100}, False),
    (
        "{:discounted_amount (* amount (- 1 discount_percent))}",
        {"amount": 200, "discount_percent": 0.25},
        {"discounted_amount": 150.0},
    ),
    (
        """(let ([subtotal (* quantity unit_price)])
             {:subtotal subtotal :tax (* subtotal 0.08) :total (* subtotal 1.08)})""",
        {"quantity": 4, "unit_price": 25},
        {"subtotal": 100, "tax": 8.0, "total": 108.0},
    ),
    (
        "{:doubled (map (lambda (x) (* x 2)) numbers)}",
        {"numbers": [1, 2, 3]},
        {"doubled": [2, 4, 6]},
    ),
    (
        "{:big (filter (lambda (o) (> (get o :amount) 10)) orders)}",
        {"orders": [{"id": "a", "amount": 5}, {"id": "b", "amount": 50}]},
        {"big": [{"id": "b", "amount": 50}]},
    ),
    ('(cond [(< score 500) "low"] [(< score 700) "medium"] [:else "high"])', {"score": 400}, "low"),
    (
        '(cond [(< score 500) "low"] [(< score 700) "medium"] [:else "high"])',
        {"score": 650},
        "medium",
    ),
    (
        '(cond [(< score 500) "low"] [(< score 700) "medium"] [:else "high"])',
        {"score": 900},
        "high",
    ),
    ("{:sum (reduce + 0 values)}", {"values": [1, 2, 3]}, {"sum": 6}),
    ("{:sum (reduce + 0 values)}", {"values": []}, {"sum": 0}),
]


@pytest.mark.parametrize(("source", "bindings", "expected"), EXAMPLES)
def test_examples_from_the_reference(source: str, bindings: dict, expected: Any) -> None:
    assert compile_ale(source).run(bindings) == expected


def test_tax_example_keeps_integer_subtotal() -> None:
    result = compile_ale(EXAMPLES[4][0]).run({"quantity": 3, "unit_price": 10})
    assert type(result["subtotal"]) is int
    assert result["tax"] == pytest.approx(2.4)
    assert result["total"] == pytest.approx(32.4)


def test_only_referenced_bindings_are_converted() -> None:
    assert compile_ale("(+ a 1)").run({"a": 1, "unused": object()}) == 2


def test_bindings_shadow_builtins() -> None:
    assert ale("(+ max 1)", max=10) == 11
    assert ale("(max 1 2)") == 2


def test_a_program_runs_many_times_with_different_bindings() -> None:
    program = compile_ale("{:total (* quantity unit_price)}")
    assert isinstance(program, AleProgram)
    assert program.source == "{:total (* quantity unit_price)}"
    assert program.run({"quantity": 2, "unit_price": 3}) == {"total": 6}
    assert program.run({"quantity": 2, "unit_price": 1.5}) == {"total": 3.0}
