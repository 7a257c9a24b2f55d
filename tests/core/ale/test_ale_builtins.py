"""The Ale function library: each builtin's results and errors, numbers against Python."""

from __future__ import annotations

import math
from typing import Any

import pytest
from ale_support import ale
from hypothesis import given
from hypothesis import strategies as st

from argyll.errors import ScriptError
from argyll.script.ale import compile_ale


def test_ints_stay_ints_and_floats_stay_floats() -> None:
    assert type(ale("(+ 1 2)")) is int
    assert type(ale("(+ 1 2.0)")) is float
    assert type(ale("(/ 6 3)")) is int
    assert ale("(/ 7 2)") == 3.5


BUILTIN_CASES = [
    ("(+)", 0),
    ("(+ 1 2 3)", 6),
    ("(+ 1 0.5)", 1.5),
    ("(- 5)", -5),
    ("(- 10 1 2)", 7),
    ("(*)", 1),
    ("(* 2 3 4)", 24),
    ("(/ 2)", 0.5),
    ("(/ 12 2 3)", 2),
    ("(/ 1 4)", 0.25),
    ("(/ 1.0 2)", 0.5),
    ("(mod 7 3)", 1),
    ("(mod -7 3)", 2),
    ("(mod 7.5 2)", 1.5),
    ("(= 1 1)", True),
    ("(= 1 1.0)", True),
    ("(= 1 1 2)", False),
    ("(= [1 2] '(1 2))", True),
    ("(= [1 [2 {:a 1}]] [1 [2 {:a 1.0}]])", True),
    ("(= {:a 1} {:a 1 :b 2})", False),
    ('(= "a" "a")', True),
    ("(= true 1)", False),
    ("(= nil false)", False),
    ("(= nil nil)", True),
    ("(!= 1 2)", True),
    ("(!= 1 1)", False),
    ("(< 1 2 3)", True),
    ("(< 1 3 2)", False),
    ("(<= 1 1 2)", True),
    ("(> 3 2 1)", True),
    ("(>= 3 3 4)", False),
    ('(< "a" "b")', True),
    ("(not false)", True),
    ("(not nil)", True),
    ("(not 0)", False),
    ("(inc 1)", 2),
    ("(dec 1.5)", 0.5),
    ('(str "a" 1 2.5 true :k)', "a12.5true:k"),
    ("(str)", ""),
    ("(str nil)", ""),
    ('(str [1 "a" nil] (list 1 2) {:k "v"})', '[1 "a" null](1 2){:k "v"}'),
    ('(str {"two words" 1})', '{"two words" 1}'),
    ("(list 1 2)", [1, 2]),
    ("(list? (list 1 2))", True),
    ("(vector 1 2)", [1, 2]),
    ("(vector? (vector))", True),
    ('(object :a 1 "b" 2)', {"a": 1, "b": 2}),
    ("(get {:a 1} :a)", 1),
    ('(get {:a 1} "a")', 1),
    ("(get {:a 1} :b 0)", 0),
    ("(get [10 20] 1)", 20),
    ("(get [10 20] 5 :none)", "none"),
    ("(get nil :a 3)", 3),
    ("(:a {:a 1})", 1),
    ("(:b {:a 1} 2)", 2),
    ("(assoc {:a 1} :b 2)", {"a": 1, "b": 2}),
    ('(assoc {:a 1} :a 3 "c" 4)', {"a": 3, "c": 4}),
    ("(assoc nil :a 1)", {"a": 1}),
    ("(assoc [1 2] 0 :x)", ["x", 2]),
    ("(assoc [1 2] 2 3)", [1, 2, 3]),
    ("(dissoc {:a 1 :b 2} :a)", {"b": 2}),
    ('(dissoc {:a 1 :b 2} "a" :b)', {}),
    ("(contains? {:a 1} :a)", True),
    ("(contains? {:a 1} :b)", False),
    ("(contains? [1 2 3] 2.0)", True),
    ("(contains? '(1 2) 3)", False),
    ('(contains? "haystack" "st")', True),
    ("(length [1 2 3])", 3),
    ("(length '())", 0),
    ('(length "abc")', 3),
    ("(length {:a 1})", 1),
    ("(length nil)", 0),
    ("(first [1 2])", 1),
    ("(car '(1 2))", 1),
    ("(first [])", None),
    ("(rest [1 2 3])", [2, 3]),
    ("(cdr '(1 2 3))", [2, 3]),
    ("(rest [])", []),
    ("(last [1 2 3])", 3),
    ("(last [])", None),
    ("(nth [1 2 3] 1)", 2),
    ("(nth [1 2 3] 5 :none)", "none"),
    ("(conj [1 2] 3 4)", [1, 2, 3, 4]),
    ("(conj '(1 2) 3 4)", [4, 3, 1, 2]),
    ("(conj nil 1)", [1]),
    ("(cons 0 [1 2])", [0, 1, 2]),
    ("(vector? (cons 0 [1 2]))", True),
    ("(list? (cons 0 '(1 2)))", True),
    ("(concat [1] '(2) nil [3 4])", [1, 2, 3, 4]),
    ("(concat)", []),
    ("(reverse [1 2 3])", [3, 2, 1]),
    ("(take 2 [1 2 3])", [1, 2]),
    ("(take 5 [1])", [1]),
    ("(drop 2 [1 2 3])", [3]),
    ("(drop -1 [1 2])", [1, 2]),
    ("(range 0 4)", [0, 1, 2, 3]),
    ("(range 3)", [0, 1, 2]),
    ("(range 10 0 -3)", [10, 7, 4, 1]),
    ("(map inc [1 2])", [2, 3]),
    ("(map + [1 2 3] [10 20])", [11, 22]),
    ("(seq? (map inc '(1 2)))", True),
    ("(filter odd? (range 0 6))", [1, 3, 5]),
    ("(reduce + [1 2 3])", 6),
    ("(reduce + [])", 0),
    ("(reduce max [3])", 3),
    ("(fold-left (lambda (acc x) (conj acc (* x x))) [] [1 2 3])", [1, 4, 9]),
    ("(apply max [3 9 2])", 9),
    ("(apply + 1 2 [3 4])", 10),
    ('(apply str ["a" "b"])', "ab"),
    ("(identity :x)", "x"),
    ("(empty? [])", True),
    ("(empty? nil)", True),
    ('(empty? "")', True),
    ("(empty? {:a 1})", False),
    ("(null? nil)", True),
    ("(null? false)", False),
    ('(string? "s")', True),
    ("(string? :s)", False),
    ("(keyword? :s)", True),
    ("(vector? [1])", True),
    ("(vector? '(1))", False),
    ("(list? '(1))", True),
    ("(list? [1])", False),
    ("(object? {})", True),
    ("(object? [])", False),
    ("(zero? 0)", True),
    ("(zero? 0.0)", True),
    ("(zero? 1)", False),
    ("(even? 4)", True),
    ("(odd? 4)", False),
    ("(odd? -3)", True),
    ("(seq->vector '(1 2))", [1, 2]),
    ("(vector? (seq->vector '(1 2)))", True),
    ("(list? (seq->list [1 2]))", True),
    ("(min 3 1 2)", 1),
    ("(max 3 1.5)", 3),
    ("(abs -4)", 4),
    ("(abs -4.5)", 4.5),
]


@pytest.mark.parametrize(("source", "expected"), BUILTIN_CASES)
def test_builtins(source: str, expected: Any) -> None:
    assert ale(source) == expected


def test_builtins_are_first_class_values() -> None:
    assert ale("(reduce + 0 values)", values=[1, 2, 3]) == 6
    assert ale("(map inc xs)", xs=[1, 2]) == [2, 3]
    assert ale("(apply max xs)", xs=[4, 8, 1]) == 8
    assert ale("(let [f +] (f 1 2))") == 3
    assert ale("((if true + *) 2 3)") == 5


def test_values_built_by_builtins_do_not_alias_constants() -> None:
    program = compile_ale("(let [v [1 2] o {:a 1}] [(conj v 3) (assoc o :b 2) v o])")
    expected = [[1, 2, 3], {"a": 1, "b": 2}, [1, 2], {"a": 1}]
    first = program.run({})
    assert first == expected
    first[2].append("mutated by the caller")
    assert program.run({}) == expected


@pytest.mark.parametrize(
    "source",
    [
        "missing",
        "(missing 1)",
        '(+ 1 "a")',
        "(+ 1 true)",
        '(* "a" 3)',
        "(- nil)",
        "(/ 1 0)",
        "(/ 1 0)",
        "(mod 1 0)",
        "(get {:a 1} :b)",
        "(get [1] 3)",
        "(get 5 :a)",
        "(nth [1] 2)",
        "(nth [1] :a)",
        "(1 2)",
        '("f" 1)',
        "((lambda (x) x))",
        "((lambda (x) x) 1 2)",
        "(inc)",
        "(first 5)",
        "(map 5 [1])",
        "(reduce + 1 2 3)",
        "(range 0 10 0)",
        "(range 0 10 0)",
        '(< 1 "a")',
        "(even? 1.5)",
        "(object :a)",
        "(assoc {:a 1} :b)",
        "(assoc [1] 5 1)",
        "(assoc 5 :a 1)",
        "(dissoc [1] 0)",
        "(length 5)",
        "(:a {} 1 2)",
        "(* 4294967296 4294967296)",
        "(apply +)",
        "(max)",
    ],
)
def test_runtime_errors_are_script_errors(source: str) -> None:
    with pytest.raises(ScriptError) as caught:
        ale(source)
    assert type(caught.value) is ScriptError


small_ints = st.integers(min_value=-(2**31), max_value=2**31)


@given(st.lists(small_ints, min_size=1, max_size=8))
def test_arithmetic_matches_python(values: list[int]) -> None:
    assert ale("(apply + xs)", xs=values) == sum(values)
    assert ale("(apply - xs)", xs=values) == (
        values[0] - sum(values[1:]) if len(values) > 1 else -values[0]
    )
    assert ale("(apply max xs)", xs=values) == max(values)
    assert ale("(reduce * 1 (take 2 xs))", xs=values) == math.prod(values[:2])


@given(small_ints, small_ints.filter(lambda n: n != 0))
def test_division_matches_python(a: int, b: int) -> None:
    result = ale("[(/ a b) (mod a b)]", a=a, b=b)
    assert result[0] == pytest.approx(a / b)
    assert type(result[0]) is (int if a % b == 0 else float)
    assert result[1] == a % b
