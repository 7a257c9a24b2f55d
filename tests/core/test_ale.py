"""The Ale reader and evaluator: language, builtins, conversions, errors and limits."""

from __future__ import annotations

import math
import sys
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from argyll.errors import ScriptError, ScriptLimitError, ScriptSyntaxError
from argyll.script.ale import DEFAULT_BUDGET, MAX_DEPTH, AleProgram, compile_ale


def ale(source: str, budget: int = DEFAULT_BUDGET, **bindings: Any) -> Any:
    return compile_ale(source).run(bindings, budget=budget)


def ale_string(text: str) -> str:
    """``text`` written as an Ale string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'


# ---------------------------------------------------------------- ALE.md examples

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


# ---------------------------------------------------------------- literals and reading


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("42", 42),
        ("-7", -7),
        ("+7", 7),
        ("3.25", 3.25),
        ("-0.5", -0.5),
        ("1e3", 1000.0),
        ("2.5E-1", 0.25),
        ('"plain"', "plain"),
        (r'"quote \" backslash \\ newline \n tab \t"', 'quote " backslash \\ newline \n tab \t'),
        ('"multi\nline"', "multi\nline"),
        ("true", True),
        ("false", False),
        ("null", None),
        ("nil", None),
        (":status", "status"),
        ('[1 2.5 "x" :k nil]', [1, 2.5, "x", "k", None]),
        ("[]", []),
        ("'(1 2 3)", [1, 2, 3]),
        ("'()", []),
        ("()", []),
        ("{:a 1 :b [true false]}", {"a": 1, "b": [True, False]}),
        ('{"a" 1 :b 2}', {"a": 1, "b": 2}),
        ("{}", {}),
        ("{:a 1, :b 2}", {"a": 1, "b": 2}),
        ("{:outer {:inner [1 {:deep :yes}]}}", {"outer": {"inner": [1, {"deep": "yes"}]}}),
        ("; a comment\n42 ; trailing comment", 42),
        ("1 2 3", 3),
        ("(+ 1 2) ; the value of the last form wins\n(* 2 3)", 6),
    ],
)
def test_literals(source: str, expected: Any) -> None:
    assert ale(source) == expected


def test_ints_stay_ints_and_floats_stay_floats() -> None:
    assert type(ale("(+ 1 2)")) is int
    assert type(ale("(+ 1 2.0)")) is float
    assert type(ale("(/ 6 3)")) is int
    assert ale("(/ 7 2)") == 3.5


def test_keywords_evaluate_to_themselves_and_are_truthy() -> None:
    assert ale("(keyword? :k)") is True
    assert ale("(if :k 1 2)") == 1
    assert ale("(= :k :k)") is True
    assert ale('(= :k "k")') is False


def test_computed_object_keys() -> None:
    assert ale("{(first ks) 1 :b x}", ks=["a"], x=2) == {"a": 1, "b": 2}
    with pytest.raises(ScriptError):
        ale("{(first ks) 1}", ks=[1])


# ---------------------------------------------------------------- special forms


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
        ("(let [x 1 y (+ x 1)] (* x y))", 2),
        ("(let [[x 1] [y 2]] (- y x))", 1),
        ("(let* ([x 1] [y (+ x 1)]) y)", 2),
        ("(let ([x 1] [x (+ x 10)]) x)", 11),
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


# ---------------------------------------------------------------- builtins

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
    ("(list? (cons 0 [1 2]))", True),
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
    ("(list? (map inc '(1 2)))", True),
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


# ---------------------------------------------------------------- conversion in and out


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


# ---------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("", 1, 1),
        ("  ; only a comment\n", 1, 1),
        ("(+ 1 2", 1, 1),
        ("(+ 1 2))", 1, 8),
        ("[1 2)", 1, 5),
        ("{:a 1", 1, 1),
        ('"abc', 1, 1),
        ('(str "a\\qb")', 1, 8),
        ("{:a 1 :b}", 1, 1),
        ("'", 1, 1),
        ("(a ')", 1, 4),
        (":", 1, 1),
        ("(if)", 1, 1),
        ("(if 1)", 1, 1),
        ("(if 1 2 3 4)", 1, 1),
        ("(let x)", 1, 1),
        ("(let x 1)", 1, 1),
        ("(let [x] x)", 1, 6),
        ("(let [x 1])", 1, 1),
        ("(let ([1 2]) 3)", 1, 6),
        ("(lambda x x)", 1, 1),
        ("(lambda (x 1) x)", 1, 1),
        ("(lambda (x x) x)", 1, 1),
        ("(fn [x])", 1, 1),
        ("(quote)", 1, 1),
        ("(quote a b)", 1, 1),
        ("(when)", 1, 1),
        ("(cond [1 2] [3])", 1, 13),
        ("(cond 1 2 3)", 1, 1),
        ("(->)", 1, 1),
        ("{[1] 2}", 1, 1),
        ("'{1 2}", 1, 2),
    ],
)
def test_syntax_errors_name_line_and_column(source: str, line: int, column: int) -> None:
    with pytest.raises(ScriptSyntaxError) as caught:
        compile_ale(source)
    assert (caught.value.line, caught.value.column) == (line, column)


def test_syntax_error_on_a_later_line() -> None:
    source = '(let ([x 1])\n  ; fine so far\n  (str x "bad \\z escape"))'
    with pytest.raises(ScriptSyntaxError) as caught:
        compile_ale(source)
    assert (caught.value.line, caught.value.column) == (3, 15)


def test_unclosed_bracket_points_at_its_opening() -> None:
    with pytest.raises(ScriptSyntaxError) as caught:
        compile_ale("(begin\n  1\n  [2 3\n)")
    assert (caught.value.line, caught.value.column) == (4, 1)
    with pytest.raises(ScriptSyntaxError) as caught:
        compile_ale("(begin\n  1\n  {:a [2 3]")
    assert (caught.value.line, caught.value.column) == (3, 3)


def test_syntax_errors_are_script_errors() -> None:
    with pytest.raises(ScriptError):
        compile_ale("(")


# ---------------------------------------------------------------- runtime errors


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
        "(/ 1.0 0)",
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
        "(range 0.5)",
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


def test_unbound_symbol_is_named() -> None:
    with pytest.raises(ScriptError, match="mystery_input"):
        ale("(+ 1 mystery_input)")


# ---------------------------------------------------------------- limits


def test_infinite_recursion_hits_the_depth_limit() -> None:
    with pytest.raises(ScriptLimitError) as caught:
        ale("(let ([f (lambda (f) (f f))]) (f f))")
    assert (caught.value.limit, caught.value.value) == ("depth", MAX_DEPTH)


def test_recursion_within_the_depth_limit_works() -> None:
    source = (
        "(let [count (lambda (self n) (if (zero? n) 0 (inc (self self (dec n)))))] (count count n))"
    )
    assert ale(source, n=MAX_DEPTH - 1) == MAX_DEPTH - 1
    with pytest.raises(ScriptLimitError):
        ale(source, n=MAX_DEPTH + 1)


def test_huge_range_hits_the_step_limit() -> None:
    with pytest.raises(ScriptLimitError) as caught:
        ale("(reduce + 0 (range 0 100000000))")
    assert (caught.value.limit, caught.value.value) == ("steps", DEFAULT_BUDGET)
    with pytest.raises(ScriptLimitError):
        ale("(range 0 100000000000000000000000000)")


@pytest.mark.parametrize(
    "source",
    [
        # exponential recursion that stays shallow
        "(let [fib (lambda (f n) (if (< n 2) n (+ (f f (- n 1)) (f f (- n 2)))))] (fib fib 40))",
        # a string that doubles each time
        '(reduce (lambda (s x) (str s s)) "abcdefgh" (range 0 64))',
        # a vector that doubles each time
        "(reduce (lambda (v x) (concat v v)) [1] (range 0 64))",
        # shared structure whose printed or returned form is exponential
        "(reduce (lambda (v x) [v v]) 1 (range 0 64))",
        "(str (reduce (lambda (v x) [v v]) 1 (range 0 64)))",
        "(let [v (reduce (lambda (v x) {:a v :b v}) 1 (range 0 64))] (= v v))",
        # many calls of a lambda with a wide body
        "(map (lambda (x) [" + " ".join(["x"] * 500) + "]) (range 0 10000))",
    ],
)
def test_runaway_scripts_hit_the_step_limit(source: str) -> None:
    with pytest.raises(ScriptLimitError) as caught:
        ale(source)
    assert caught.value.limit == "steps"


def test_comparing_long_strings_costs_steps() -> None:
    long_text = "x" * 1_000_000
    with pytest.raises(ScriptLimitError):
        ale("(map (lambda (i) (= s s)) (range 0 10000))", s=long_text)
    with pytest.raises(ScriptLimitError):
        ale("(map (lambda (i) (< s s)) (range 0 10000))", s=long_text)


def test_budget_is_per_run_and_adjustable() -> None:
    program = compile_ale("(reduce + 0 (range 0 1000))")
    assert program.run({}) == 499500
    with pytest.raises(ScriptLimitError) as caught:
        program.run({}, budget=500)
    assert (caught.value.limit, caught.value.value) == ("steps", 500)
    assert program.run({}) == 499500


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    for source in ["(" * 5000 + ")" * 5000, "[" * 5000 + "]" * 5000, "(" * 5000]:
        with pytest.raises((ScriptSyntaxError, ScriptLimitError)):
            compile_ale(source)


def test_deeply_quoted_forms_do_not_raise_recursion_error() -> None:
    with pytest.raises((ScriptSyntaxError, ScriptLimitError)):
        compile_ale("'" * 5000 + "x")


def test_deep_data_at_runtime_is_a_limit_error() -> None:
    with pytest.raises(ScriptLimitError) as caught:
        ale("(reduce (lambda (v x) [v]) 1 (range 0 5000))")
    assert caught.value.limit == "depth"


def test_long_threading_chains_compile() -> None:
    assert ale("(-> 0" + " inc" * 50 + ")") == 50


def test_no_recursion_error_when_called_from_a_deep_python_stack() -> None:
    program = compile_ale(
        "(let [f (lambda (self n) (if (zero? n) 0 (+ 1 (self self (dec n)))))] (f f 90))"
    )

    def stack_depth() -> int:
        frame, depth = sys._getframe(), 0
        while frame is not None:
            frame, depth = frame.f_back, depth + 1
        return depth

    def nested(levels: int) -> Any:
        return program.run({}) if levels == 0 else nested(levels - 1)

    with pytest.raises(ScriptLimitError) as caught:
        nested(sys.getrecursionlimit() - stack_depth() - 60)
    assert caught.value.limit == "depth"


# ---------------------------------------------------------------- properties

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


@given(st.text())
def test_string_literals_round_trip(text: str) -> None:
    assert ale("(str " + ale_string(text) + ")") == text
    assert ale(ale_string(text)) == text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_json_values_round_trip_and_equal_themselves(value: Any) -> None:
    assert ale("x", x=value) == value
    assert ale("(= x x)", x=value) is True
