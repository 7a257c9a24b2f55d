"""The Ale reader: literals, syntax errors with their line and column, nesting caps."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ale_support import ale, ale_string
from hypothesis import given
from hypothesis import strategies as st

from argyll.errors import ScriptError, ScriptLimitError, ScriptSyntaxError
from argyll.script.ale import compile_ale


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
        ("'()", None),
        ("()", None),
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
        ("{:a 1 :b}", 1, 1),
        ("'", 1, 1),
        ("(a ')", 1, 4),
        ("#x", 1, 1),
        ("(if)", 1, 1),
        ("(if 1)", 1, 1),
        ("(if 1 2 3 4)", 1, 1),
        ("(let x)", 1, 1),
        ("(let x 1)", 1, 1),
        ("(let [x] x)", 1, 6),
        ("(let ([1 2]) 3)", 1, 6),
        ("(lambda (x 1) x)", 1, 1),
        ("(lambda (x x) x)", 1, 1),
        ("(quote)", 1, 1),
        ("(quote a b)", 1, 1),
        ("(when)", 1, 1),
        ("(cond [1 2] [3])", 1, 13),
        ("(cond 1 2 3)", 1, 1),
        ("(->)", 1, 1),
        ("{[1] 2}", 1, 1),
        ("'{[1] 2}", 1, 2),
    ],
)
def test_syntax_errors_name_line_and_column(source: str, line: int, column: int) -> None:
    with pytest.raises(ScriptSyntaxError) as caught:
        compile_ale(source)
    assert (caught.value.line, caught.value.column) == (line, column)


def test_syntax_error_on_a_later_line() -> None:
    source = '(let ([x 1])\n  ; fine so far\n  (str x ") bad"))\n  )'
    with pytest.raises(ScriptSyntaxError) as caught:
        compile_ale(source)
    assert (caught.value.line, caught.value.column) == (4, 3)


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


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    for source in ["(" * 5000 + ")" * 5000, "[" * 5000 + "]" * 5000, "(" * 5000]:
        with pytest.raises((ScriptSyntaxError, ScriptLimitError)):
            compile_ale(source)


def test_deeply_quoted_forms_do_not_raise_recursion_error() -> None:
    with pytest.raises((ScriptSyntaxError, ScriptLimitError)):
        compile_ale("'" * 5000 + "x")


@given(st.text())
def test_string_literals_round_trip(text: str) -> None:
    assert ale("(str " + ale_string(text) + ")") == text
    assert ale(ale_string(text)) == text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("#t", True),
        ("#f", False),
        ("0xff", 255),
        ("-0x10", -16),
        ("3/6", 0.5),
        ("4/2", 2),
        ("'(1 . 2)", [1, 2]),
        ("'(1 2 . (3))", [1, 2, 3]),
        ("#{:a :a :b}", ["a", "b"]),
        ("'#{1}", [1]),
        ('"\\s\\b\\f\\q"', " \b\fq"),
        ("#| one #| two |# still |# 7", 7),
        ("[(< -inf 0 +inf) (nan? nan)]", [True, True]),
        ("{1 :one}", {"1": "one"}),
    ],
)
def test_ale_literal_syntax(source: str, expected: Any) -> None:
    assert ale(source) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("(1 . 2 3)", "a dot must stand before the last item"),
        ("[1 . 2]", "a dot must stand before the last item"),
        ("(. 2)", "a dot must stand before the last item"),
        (".", "a dot outside a list"),
        ("#| never closed", "'#|' comment is never closed"),
        ("#x", "unknown reader syntax"),
        ("#{1 2", "'#{' is never closed"),
    ],
)
def test_ale_literal_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(ScriptSyntaxError, match=re.escape(message)):
        compile_ale(source)
