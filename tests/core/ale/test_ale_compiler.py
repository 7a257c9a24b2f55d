"""The Ale compiler and evaluator: special forms, locals and globals, threading."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from ale_support import ale
from hypothesis import given, settings
from hypothesis import strategies as st

from argyll.errors import ScriptError
from argyll.script.ale import compile_ale
from argyll.script.ale.builtins import BUILTINS
from argyll.script.ale.compiler import SPECIAL_FORMS


def test_computed_object_keys() -> None:
    assert ale("{(first ks) 1 :b x}", ks=["a"], x=2) == {"a": 1, "b": 2}
    assert ale("{(first ks) 1}", ks=[2]) == {"2": 1}
    with pytest.raises(ScriptError):
        ale("{(first ks) 1}", ks=[[1]])


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("(quote (a b))", ["a", "b"]),
        ("'sym", "sym"),
        ("'[1 (+ 1 2)]", [1, ["+", 1, 2]]),
        ("'{:k v}", {"k": "v"}),
        ("''x", ["quote", "x"]),
        ("(if true 1 2)", 1),
        ("(if false 1 2)", 2),
        ("(if null 1 2)", 2),
        ("(if 0 1 2)", 1),
        ('(if "" 1 2)', 1),
        ("(if [] 1 2)", 1),
        ("(if false 1)", None),
        ("(unless false 1 2)", 1),
        ("(unless true 1 2)", 2),
        ("(unless true 1)", None),
        ("(when true 1 2 3)", 3),
        ("(when false 1)", None),
        ("(when-not false 1 2)", 2),
        ("(when-not 0 1)", None),
        ("(cond [false 1] [true 2])", 2),
        ("(cond [false 1])", None),
        ("(cond)", None),
        ("(cond false 1 nil 2 :else 3)", 3),
        ("(cond (< 1 0) :neg (> 1 0) :pos)", "pos"),
        ("(cond [false 1] [else 2])", 2),
        ("(and)", True),
        ("(and 1 2 3)", 3),
        ("(and 1 false 3)", False),
        ("(and 1 nil 3)", None),
        ("(or)", None),
        ("(or false 2 3)", 2),
        ("(or false nil)", None),
        ("(let ([x 1] [y 2]) (+ x y))", 3),
        ("(let ((x 1) (y 2)) (+ x y))", 3),
        ("(let [x 1] (+ x 1))", 2),
        ("(let* [x 1 y (+ x 1)] (* x y))", 2),
        ("(let [x 1] (let [x 2 y x] y))", 1),
        ("(let [[x 1] [y 2]] (- y x))", 1),
        ("(let* ([x 1] [y (+ x 1)]) y)", 2),
        ("(let* ([x 1] [x (+ x 10)]) x)", 11),
        ("(let [x 1] (let [x 2] x))", 2),
        ("(let [x 1] (let [y 2] (let [z 3] [x y z])))", [1, 2, 3]),
        ("(let [] 5)", 5),
        ("(let [x 1] :ignored (+ x 1))", 2),
        ("((lambda (x y) (+ x y)) 1 2)", 3),
        ("((fn [x] (* x x)) 4)", 16),
        ("((lambda () 7))", 7),
        ("(let [n 10] ((lambda (x) (+ x n)) 1))", 11),
        ("(let [add (lambda (n) (lambda (x) (+ x n)))] ((add 5) 1))", 6),
        ("(let [f (lambda (x) 1 2 (* x 3))] (f 2))", 6),
        ("(begin 1 2 3)", 3),
        ("(begin)", None),
        ("(-> 5 (- 2) (* 3))", 9),
        ("(->> 5 (- 2) (* 3))", -9),
        ("(-> 5 inc (* 2))", 12),
        ("(-> {:a {:b 7}} :a :b)", 7),
        ("(->> [1 2 3 4] (map inc) (filter even?) (reduce +))", 6),
        ("(-> 1)", 1),
    ],
)
def test_special_forms(source: str, expected: Any) -> None:
    assert ale(source) == expected


def test_recursion_by_passing_the_function_to_itself() -> None:
    source = """
    (let ([fact (lambda (self n) (if (<= n 1) 1 (* n (self self (dec n)))))])
      (fact fact 10))
    """
    assert ale(source) == 3628800


def test_special_forms_only_evaluate_what_they_need() -> None:
    assert ale("(if true 1 missing)") == 1
    assert ale("(and false missing)") is False
    assert ale("(or 1 missing)") == 1
    assert ale("(cond [true 1] [missing 2])") == 1
    with pytest.raises(ScriptError):
        ale("(if false 1 missing)")


def test_unbound_symbol_is_named() -> None:
    with pytest.raises(ScriptError, match="mystery_input"):
        ale("(+ 1 mystery_input)")


def test_long_threading_chains_compile() -> None:
    assert ale("(-> 0" + " inc" * 50 + ")") == 50


_ATOMS = [
    "1",
    "-2",
    "2.5",
    "1/2",
    '"s"',
    ":k",
    "x",
    "null",
    "true",
    "'()",
    "[1 2]",
    "{:a 1}",
    "#{1}",
    "(1 . 2)",
    "(range)",
    "(fn [a] a)",
    "inc",
    "[x 1]",
    "(catch [e any?] 1)",
]
_HEADS = sorted(set(BUILTINS) | set(SPECIAL_FORMS))
_forms = st.recursive(
    st.sampled_from(_ATOMS),
    lambda inner: st.builds(
        lambda head, args: f"({head} {' '.join(args)})",
        st.sampled_from(_HEADS),
        st.lists(inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_forms)
def test_any_combination_of_forms_fails_only_as_a_script_error(source: str) -> None:
    """Whatever a script combines, it compiles and runs or gives a ScriptError, never a crash."""
    with contextlib.suppress(ScriptError):
        compile_ale(source).run({"x": [1, 2]}, budget=20_000)
