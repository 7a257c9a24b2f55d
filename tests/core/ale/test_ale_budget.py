"""Ale's limits: the step budget and the depth limit stop every runaway script."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from ale_support import ale

from argyll.errors import ScriptError, ScriptLimitError
from argyll.script.ale import DEFAULT_BUDGET, MAX_DEPTH, compile_ale


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


def test_deep_data_at_runtime_is_a_limit_error() -> None:
    with pytest.raises(ScriptLimitError) as caught:
        ale("(reduce (lambda (v x) [v]) 1 (range 0 5000))")
    assert caught.value.limit == "depth"


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


@pytest.mark.parametrize(
    "source",
    [
        "(seq->vector (range))",
        "(length (map inc (range)))",
        "(last (filter even? (range)))",
        "(define (ones) (lazy-seq (cons 1 (ones)))) (length (ones))",
        "(fold-left + (range 1000000000))",
        "(length (range 1000000000))",
    ],
)
def test_infinite_and_huge_lazy_sequences_stop_at_the_step_budget(source: str) -> None:
    with pytest.raises(ScriptLimitError) as caught:
        ale(source, budget=50_000)
    assert caught.value.limit == "steps"


def test_taking_from_an_infinite_sequence_pays_only_for_what_it_takes() -> None:
    assert ale("(seq->vector (take 3 (map inc (range))))", budget=200) == [1, 2, 3]


@pytest.mark.parametrize(
    "source",
    [
        "(define (down n) (if (zero? n) 0 (inc (down (dec n))))) (down 100000)",
        "((lambda-rec f (n) (+ 1 (f n))) 1)",
        "(let-rec [f (lambda (n) (f (inc n)))] (f 0))",
    ],
)
def test_deep_recursion_stops_at_the_depth_limit(source: str) -> None:
    with pytest.raises(ScriptLimitError) as caught:
        ale(source)
    assert caught.value.limit == "depth"


def test_a_limit_cannot_be_caught_by_try() -> None:
    with pytest.raises(ScriptLimitError):
        ale("(try (seq->vector (range)) (catch [e any?] :caught))", budget=10_000)


def test_a_lazy_sequence_that_failed_fails_again_rather_than_ending_early() -> None:
    source = """(define s (map (fn [x] (/ 1 x)) [1 0 2]))
                (try (seq->vector s) (catch [e string?] (length s)))"""
    with pytest.raises(ScriptError, match="division by zero"):
        ale(source)
