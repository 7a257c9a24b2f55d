"""The cases of Ale's own reference (its docstrings), one or more per implemented entry.

Rewritten as our fixtures: the expression and the value the reference states,
written as the JSON it leaves a script as (lists and vectors as arrays, ratios as
numbers, keywords as their names).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from ale_support import ale

from argyll.errors import ScriptError

ROBERT = '(define robert {:name "Bob" :age 45})\n'

CASES: list[tuple[str, Any]] = [
    # accessor ":"
    ("(: {:inc (lambda (x) (+ x 1))} :inc 41)", 42),
    # + - * / mod
    ("(+ 9 10 23)", 42),
    ("(+ 50 12.6 34.8)", 97.4),
    ("(+)", 0),
    ("(- 50 35 6)", 9),
    ("(- 12 3.5)", 8.5),
    ("(- 6)", -6),
    ("(* 9 10 23)", 2070),
    ("(*)", 1),
    ("(/ 10 3)", 10 / 3),
    ("(> (/ 1.0 0) 1e308)", True),
    ("(str (/ 10 3))", "10/3"),
    ("(/ 10 3.0)", 3.3333333333333335),
    ("(/ 20 2.0 4)", 2.5),
    ("(mod 10 3)", 1),
    ("(mod 20 7.0 4)", 2.0),
    # and, or
    ('(and (+ 1 2 3) false "not returned")', False),
    ('(and (+ 1 2 3) true "returned")', "returned"),
    ('(or (+ 1 2 3) false "not returned")', 6),
    ('(or false \'() "returned")', "returned"),
    ("(!and true false)", True),
    ("(!or false null)", True),
    # append, apply
    ("(append [1 2 3] 4)", [1, 2, 3, 4]),
    ("(define x '(1 2 3))\n(apply + x)", 6),
    # assoc, dissoc
    (ROBERT + "(assoc robert (:age . 46))", {"name": "Bob", "age": 46}),
    (ROBERT + "(assoc robert (:age . 46)) robert", {"name": "Bob", "age": 45}),
    (ROBERT + "(dissoc robert :age)", {"name": "Bob"}),
    # begin, branching helpers
    ('(begin 1 "returned")', "returned"),
    ('(if-let [x (get {:name "ale"} :title false)] (str "hello " x) "missing")', "missing"),
    ('(if-let [x (get {:name "ale"} :name false)] (str "hello " x) "missing")', "hello ale"),
    ("(when-let [x (get {:a 1} :a)] (inc x))", 2),
    ('(case 2 [1 "one"] [(2 3) "two or three"])', "two or three"),
    # car/cdr accessors
    ("(define x '((1 2) (3 4))) (caar x)", 1),
    ("(define x '((1 2) (3 4))) (cadr x)", [3, 4]),
    ("(define x '((1 2) (3 4))) (cdar x)", [2]),
    ("(define x '((1 2) (3 4))) (cddr x)", None),
    ("(define y '((1 2) ((3 4) 5))) (cadar y)", 2),
    ("(define y '((1 2) ((3 4) 5))) (caadr y)", [3, 4]),
    # comp, concat, cond, conj, cons, contains?
    ("(define mul2Add5 (comp (partial * 2) (partial + 5))) (mul2Add5 10)", 25),
    ("(seq->list (concat [1 2 3] '(4 5 6)))", [1, 2, 3, 4, 5, 6]),
    (
        '(define x 99) (cond [(< x 50) "was less than 50"] [(> x 100) "was greater than 100"]'
        ' [:else "was in between"])',
        "was in between",
    ),
    ("(conj [1 2 3 4] 5 6 7 8)", [1, 2, 3, 4, 5, 6, 7, 8]),
    ("(define x '(3 4 5 6)) (define y (cons 2 x)) (cons 1 y)", [1, 2, 3, 4, 5, 6]),
    ("(contains? #{:name :age} :name)", True),
    # declare, define, define-lambda
    (
        "(declare is-odd-number)"
        "(define (is-even-number n) (cond [(= n 0) true] [:else (is-odd-number (- n 1))]))"
        "(define (is-odd-number n) (cond [(= n 0) false] [:else (is-even-number (- n 1))]))"
        "[(is-even-number 10) (is-odd-number 7) (is-even-number 3)]",
        [True, True, False],
    ),
    (
        "(define-lambda (fib i) (cond [(= i 0) 0] [(= i 1) 1] [(= i 2) 1]"
        " [:else (+ (fib (- i 2)) (fib (- i 1)))])) (fib 15)",
        610,
    ),
    ("(define x (map (lambda (y) (* y 2)) [1 2 3])) x", [2, 4, 6]),
    # drop, empty?, eq
    ("(define x '(1 2 3 4)) (define y [5 6 7 8]) (drop 3 (concat x y))", [4, 5, 6, 7, 8]),
    ("(empty? '(1 2 3 4) [] {})", False),
    ("(empty? '() [] {})", True),
    ('(!empty? \'(1) [2] "3" {4 5})', True),
    ('(define h "hello") (eq "hello" h)', True),
    ('(!eq "hello" "world")', True),
    ("(eq 1 1.0)", False),
    # filter, first, fold-left, fold-right, for
    ("(filter (lambda (x) (< x 3)) [1 2 3 4])", [1, 2]),
    ("(define x '(99 64 32 48)) (car x)", 99),
    ("(define y (100 . 200)) (car y)", 100),
    ("(fold-left + 5 (range 1 11))", 60),
    ("(fold-right cons '() [1 2 3])", [1, 2, 3]),
    ("(foldr - 0 [1 2 3])", 2),
    ("(for ([x [1 2]] [y [10 20]]) (+ x y))", [11, 21, 12, 22]),
    ("(for-each [x [1 2 3]] (* x x))", 9),
    # get, if, inc/dec, index-of
    (ROBERT + '(get robert :address "wrong")', "wrong"),
    ('(define x \'(1 2 3 4 5 6 7 8)) (if (> (length x) 3) "x is big" "x is small")', "x is big"),
    ('(unless (> 1 3) "x is small")', "x is small"),
    ("(inc 41)", 42),
    ("(dec 42)", 41),
    ("(index-of [4 8 15 16] 15)", 2),
    ("(index-of [4 8 15 16] 23)", False),
    # the predicates
    ('(atom? \'() :hello "there")', True),
    ("(!atom? '(+ 1 2 3) [4 5 6])", True),
    ("(counted? '(1 2 3 4) [5 6 7 8])", True),
    ('(!counted? "hello" 99)', False),
    ("(false? (< 3 2) (> 5 10))", True),
    ("(!false? true (< 5 10))", True),
    ("(indexed? '(1 2 3 4) [5 6 7 8])", True),
    ('(!indexed? "hello" 99)', False),
    ("(keyword? :keyword1 :keyword2 :keyword3)", True),
    ('(!keyword? "string1" "string2" :keyword1)', False),
    ("(list? '(1 2 3 4) [5 6 7 8])", False),
    ('(!list? "hello" [99])', True),
    ('(mapped? {:name "bill"} #{:name :age} [1 2 3])', False),
    ('(!mapped? "hello" [1 2 3])', True),
    ('(mapper? {:name "bill"} #{:name :age} [1 2 3])', False),
    ("(!mapper? #{:name :age} [1 2 3])", True),
    ("(null? '(1 2 3 4) '())", False),
    ('(!null? "hello" [99])', True),
    ('(object? {:name "bill"} {:name "peggy"} [1 2 3])', False),
    ('(!object? "hello" [1 2 3])', True),
    ("(seq? '(1 2 3 4) [5 6 7 8])", True),
    ('(!seq? "hello" 99)', True),
    ("(set? #{1 2 3} (set 4 5 6))", True),
    ('(string? \'(1 2 3 4) "hello")', False),
    ("(!string? '(1 2 3) [99])", True),
    ("(true? (> 3 2) (< 5 10) (and #t #f))", False),
    ("(!true? #f (> 5 10))", True),
    ("(vector? '(1 2 3 4) [5 6 7 8])", False),
    ('(!vector? "hello" [99])', False),
    ("(zero? (- 3 2 1) 0 0/1 (/ 3 3))", False),
    ("(!zero? 1 2.5)", True),
    ("(number? 42)", True),
    ("(boolean? true)", True),
    ("(symbol? 'abc)", True),
    ("(procedure? +)", True),
    ("(nan? (/ 0.0 0))", True),
    ("(inf? +inf)", True),
    ("(-inf? -inf)", True),
    ("(even? 2)", True),
    ("(odd? 3)", True),
    ("(pair? '(1 . 2))", True),
    ("(appendable? [1 2 3])", True),
    ("(reversible? [1 2 3])", True),
    ("(!appendable? '(1 2 3))", True),
    ("(local? 'x)", True),
    ("(qualified? 'ns/x)", True),
    ("(any? 1 null)", True),
    ("(cons? '(1 2))", True),
    ("(!even? 3)", True),
    # juxt, label, lambda, last, lazy-seq, length, let, letfn, list
    ("(define juxt-math (juxt * + - /)) (juxt-math 32 10)", [320, 42, 22, 3.2]),
    ("((label fact (lambda (n) (if (zero? n) 1 (* n (fact (dec n)))))) 5)", 120),
    (
        "(define double (let [mul 2] (lambda (x) (* x mul)))) (seq->vector (map double '(1 2 3)))",
        [2, 4, 6],
    ),
    ("((lambda-rec count (n) (if (zero? n) 0 (inc (count (dec n))))) 7)", 7),
    ("(define x '(99 64 32 48)) (last x)", 48),
    (
        "(define (fib-seq) (let [fib (lambda-rec fib (a b) (lazy-seq (cons a (fib b (+ a b)))))]"
        " (fib 0 1))) (seq->vector (take 12 (fib-seq)))",
        [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89],
    ),
    ("(length '(1 2 3 4))", 4),
    ("(let ([x '(1 2 3 4)] [y [5 6 7 8] ]) (concat x y))", [1, 2, 3, 4, 5, 6, 7, 8]),
    (
        "(let-rec ([ev? (lambda (n) (if (zero? n) true (od? (dec n))))]"
        " [od? (lambda (n) (if (zero? n) false (ev? (dec n))))]) (od? 9))",
        True,
    ),
    (
        "(letfn [(lambda-rec even? (n) (if (zero? n) true (odd? (dec n))))"
        " (lambda-rec odd? (n) (if (zero? n) false (even? (dec n))))] (even? 10))",
        True,
    ),
    ('(define x "hello") (define y "there") (list x y)', ["hello", "there"]),
    ("[true false null]", [True, False, None]),
    # map, not, nth, object, partial, partition
    ("(map (lambda (x) (* x 2)) [1 2 3 4])", [2, 4, 6, 8]),
    ("(map + [1 2 3 4] '(4 6 8) '(30 20 10 56))", [35, 28, 21]),
    ('(not "hello")', False),
    ('(define l \'(1 2 3 4)) (nth l 4 "wrong")', "wrong"),
    ('(define l \'(1 2 3 4)) (l 4 "wrong")', "wrong"),
    ("(nth! (range) 10)", 10),
    ('(object :name "ale" :age 0.3 :lang "Go")', {"name": "ale", "age": 0.3, "lang": "Go"}),
    ("(define plus10 (partial + 4 6)) (plus10 9)", 19),
    ("(seq->list (partition 2 3 [1 2 3 4 5 6 7 8 9 10]))", [[1, 2], [4, 5], [7, 8], [10]]),
    ("(partition 2 [1 2 3])", [[1, 2], [3]]),
    # quote, raise, range, recover, rest, reverse
    ("(quote (1 2 3 4))", [1, 2, 3, 4]),
    ('(recover (thunk (raise "boom")) (lambda (err) (str "caught: " err)))', "caught: boom"),
    ("(seq->vector (take 5 (range 10 inf 5)))", [10, 15, 20, 25, 30]),
    ("(range 3 0 -1)", [3, 2, 1]),
    ("(define x '(99 64 32 48)) (cdr x)", [64, 32, 48]),
    ("(define y (100 . 200)) (cdr y)", 200),
    ("(reverse [1 2 3 4])", [4, 3, 2, 1]),
    ("(reverse! (take 3 (range)))", [2, 1, 0]),
    # seq and the conversions
    (
        '(when-let [s (seq "hello")] (seq->vector (map (lambda (x) (str x "-")) s)))',
        ["h-", "e-", "l-", "l-", "o-"],
    ),
    ("(seq [])", None),
    ("(seq! [])", False),
    (
        "(define x [1 2 3 4]) (define y (map (lambda (x) (+ x 4)) '(1 2 3 4))) (seq->list x y)",
        [1, 2, 3, 4, 5, 6, 7, 8],
    ),
    (
        '(define x [:name "ale" :age 0.3]) (define y \'(:weight "light")) (seq->object x y)',
        {"name": "ale", "age": 0.3, "weight": "light"},
    ),
    ("(seq->set [1 2] '(2 3))", [1, 2, 3]),
    (
        "(define x (map (lambda (x) (* x 2)) '(1 2 3 4))) (seq->vector '(1 2 3 4) x)",
        [1, 2, 3, 4, 2, 4, 6, 8],
    ),
    # sequence combinators
    ("(zip [1 2 3] '(:a :b))", [[1, "a"], [2, "b"]]),
    ("(mapcat (lambda (x) [x x]) [1 2])", [1, 1, 2, 2]),
    ("(cartesian-product [1 2] [:a :b])", [[1, "a"], [1, "b"], [2, "a"], [2, "b"]]),
    ("(map! inc [1 2])", [2, 3]),
    ("(take-while (lambda (x) (< x 3)) (range))", [0, 1, 2]),
    # set, str, sym, take
    ("(set 1 2 2 3)", [1, 2, 3]),
    ('(str "hello" [1 2 3 4])', "hello[1 2 3 4]"),
    ('(str! "hello" [1 2 3 4])', '"hello" [1 2 3 4]'),
    ('(define hello-sym (sym "hello")) (eq hello-sym \'hello)', True),
    ("(define x '(1 2 3 4)) (define y [5 6 7 8]) (take 6 (concat x y))", [1, 2, 3, 4, 5, 6]),
    # threading
    ("(cond-> 10 [true (+ 5)] [(> 12) (* 2)] [(< 25) (/ 3)] [true (- 1)])", 29),
    (
        '(cond-> {} [empty? (assoc (:name . "John"))] [!empty? (assoc (:size . "non-empty"))]'
        ' [(contains? :name) (assoc (:greeting . "Hello"))] [object? (assoc (:type . "object"))])',
        {"name": "John", "size": "non-empty", "greeting": "Hello", "type": "object"},
    ),
    (
        "(cond->> [1 2 3 4 5] [seq? (map (lambda (x) (* x 2)))] [!empty? (filter even?)]"
        " [false (concat [0])])",
        [2, 4, 6, 8, 10],
    ),
    ("(cond->> [1 2 3] [seq? (filter even?)] [empty? (concat [4 5])] [true (take 1)])", [2]),
    ("(-> 0 (+ 10) (* 2) (/ 5))", 4),
    ("(->> 0 (+ 10) (* 2) (/ 5.0))", 0.25),
    ("(let-> [x 10] (+ x 5) (* x 2) (/ x 2))", 15),
    (
        '(let-> [user {}] (assoc user (:name . "John")) (assoc user (:age . 25))'
        ' (assoc user (:status . "active")))',
        {"name": "John", "age": 25, "status": "active"},
    ),
    ("(some-> {:a {:b 1}} :a :b inc)", 2),
    ("(some-> {:a {:b 1}} :c :b inc)", None),
    ("(some->> [1 2 3] (map inc) (filter even?))", [2, 4]),
    # try, type helpers, utilities, vector, when
    (
        '(try (raise "hello!") "won\'t reach me" (catch [n inf?] "won\'t match me")'
        ' (catch [s string?] (str "was a string -> " s)) (finally "done"))',
        "was a string -> hello!",
    ),
    ("(try (/ 1 0) (catch [e string?] :caught))", "caught"),
    ("(assert-type :number 42)", 42),
    ('(is-a :string "hello")', True),
    ("(identity 7)", 7),
    ("((constantly 3) 1 2)", 3),
    ("(no-op 1 2)", None),
    ("((thunk 1 2))", 2),
    ('(define x "hello") (define y "there") (vector x y)', ["hello", "there"]),
    ("(define x '(1 2 3 4 5 6 7 8)) (when (> (length x) 3) (length x))", 8),
    ('(when-not (> 1 3) "small")', "small"),
    # literals
    (
        "[true false null (inf? +inf) (-inf? -inf) (nan? nan)]",
        [True, False, None, True, True, True],
    ),
    ("#{1 2}", [1, 2]),
    ("[#t #f]", [True, False]),
    ("1/3", 1 / 3),
    ("0x1F", 31),
    ('(str "a\\sb")', "a b"),
    ("#| a block #| nested |# comment |# 5", 5),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_reference_cases(source: str, expected: Any) -> None:
    value = ale(source)
    assert value == (pytest.approx(expected) if isinstance(expected, float) else expected)


ERRORS: list[tuple[str, str]] = [
    ('(raise "unexpected value: " 42)', "unexpected value: 42"),
    ("(get {:a 1} :b)", "no :b"),
    ("(nth [1 2] 5)", "out of bounds"),
    ("[+inf]", "cannot return +inf: JSON has no such number"),
    ("{:x nan}", "cannot return nan"),
    ('(assert-type :number "x")', "got string, expected number"),
    ("(case 9 [1 :one])", "no clause matches 9"),
    ("(append '(1 2) 3)", "expected a vector"),
    ("((lambda [(x) x] [(x y) y]) 1 2 3)", "no case of the function takes 3"),
    ("(define (f) (g)) (define x (f)) (define (g) 1) x", "g is used before its value is defined"),
]


@pytest.mark.parametrize(("source", "message"), ERRORS)
def test_reference_errors(source: str, message: str) -> None:
    with pytest.raises(ScriptError, match=re.escape(message)):
        ale(source)
