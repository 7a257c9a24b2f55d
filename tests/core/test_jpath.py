"""jpath: RFC 9535 as the library runs it, Argyll's meaning of a result, errors and limits."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from argyll.errors import ScriptError, ScriptLimitError, ScriptSyntaxError
from argyll.script.jpath import NOTHING, compile_jpath

STORE = {
    "store": {
        "book": [
            {"title": "Sayings", "price": 8.95, "tags": ["wisdom"]},
            {"title": "Sword", "price": 12.99, "isbn": "0-553-21311-3"},
            {"title": "Moby Dick", "price": 8.99, "isbn": "0-395-19395-8"},
            {"title": "Rings", "price": 22.99, "isbn": None},
        ],
        "bicycle": {"color": "red", "price": 399},
    }
}


def select(source: str, document: Any = STORE) -> list[Any]:
    return compile_jpath(source).select(document)


# --- RFC 9535, as the library gives it --------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("$.store.book[*].title", ["Sayings", "Sword", "Moby Dick", "Rings"]),
        ("$.store.book[-1].title", ["Rings"]),
        ("$.store.book[1:3].title", ["Sword", "Moby Dick"]),
        ("$.store.book[::-2].title", ["Rings", "Sword"]),
        ("$.store.book[0, 2].price", [8.95, 8.99]),
        ("$['store']['bicycle']['color']", ["red"]),
        ("$.store.book[?@.price < 10].title", ["Sayings", "Moby Dick"]),
        ("$.store.book[?@.isbn].title", ["Sword", "Moby Dick", "Rings"]),
        ("$.store.book[?!@.isbn].title", ["Sayings"]),
        ("$.store.book[?@.isbn == null].title", ["Rings"]),
        ("$.store.book[?@.price > 10 && @.price < 20].title", ["Sword"]),
        ("$.store.book[?@.price == $.store.book[0].price].title", ["Sayings"]),
        ("$..color", ["red"]),
        ("$.store.book..price", [8.95, 12.99, 8.99, 22.99]),
        ("$.store.book[?length(@.title) == 5].title", ["Sword", "Rings"]),
        ("$.store.book[?count(@.*) == 2].title", []),
        ("$.store.book[?count(@.*) == 3].title", ["Sayings", "Sword", "Moby Dick", "Rings"]),
        ("$.store.book[?match(@.title, 'S.*')].title", ["Sayings", "Sword"]),
        ("$.store.book[?search(@.title, 'i')].title", ["Sayings", "Moby Dick", "Rings"]),
        ("$.store.book[?value(@.tags[0]) == 'wisdom'].title", ["Sayings"]),
    ],
)
def test_queries_select_what_rfc_9535_says(source: str, expected: list[Any]) -> None:
    assert select(source) == expected


def test_a_comparison_keeps_true_apart_from_one() -> None:
    assert select("$[?@ == 1]", [True, 1, 1.0, False, 0]) == [1, 1.0]


def test_match_is_anchored_and_search_is_not() -> None:
    assert select("$[?match(@, 'ab')]", ["ab", "xaby"]) == ["ab"]
    assert select("$[?search(@, 'ab')]", ["ab", "xaby"]) == ["ab", "xaby"]


def test_a_pattern_outside_i_regexp_matches_nothing() -> None:
    assert select("$[?match(@, '(?i)ab')]", ["ab", "AB"]) == []


# --- Argyll's meaning of a result -------------------------------------------


def test_a_predicate_is_true_when_the_query_selects_a_node() -> None:
    program = compile_jpath("$.customer.active")
    assert program.run({"customer": {"active": True}}) is True
    assert program.run({"customer": {"active": False}}) is True  # a node, whatever its value
    assert program.run({"customer": {}}) is False
    assert program.run({}) is False


def test_a_null_node_counts_as_a_match() -> None:
    assert compile_jpath("$.flag").run({"flag": None}) is True


def test_a_predicate_queries_the_inputs_as_one_object() -> None:
    program = compile_jpath('$.items[?@.status == "ready"]')
    assert program.run({"items": [{"status": "new"}, {"status": "ready"}]}) is True
    assert program.run({"items": [{"status": "new"}]}) is False


def test_a_match_queries_the_value_itself() -> None:
    program = compile_jpath("$.kind")
    assert program.matches({"kind": "email"}) is True
    assert program.matches({"other": 1}) is False
    assert program.matches("email") is False


def test_a_bare_comparison_is_shorthand_for_a_filter_on_the_document() -> None:
    shorthand = compile_jpath('$.product.name == "Laptop"')
    explicit = compile_jpath('$[?$.product.name == "Laptop"]')
    for document in ({"product": {"name": "Laptop"}}, {"product": {"name": "Phone"}}):
        assert shorthand.select(document) == explicit.select(document)
    assert shorthand.matches({"product": {"name": "Laptop"}}) is True
    assert shorthand.matches({"product": {"name": "Phone"}}) is False


def test_the_shorthand_with_at_tests_each_member() -> None:
    program = compile_jpath("@.qty > 1")
    assert program.select([{"qty": 1}, {"qty": 2}, {"qty": 3}]) == [{"qty": 2}, {"qty": 3}]


def test_the_shorthand_selects_nothing_in_a_scalar_or_empty_document() -> None:
    program = compile_jpath("$ == 5")
    assert program.matches(5) is False
    assert program.matches({}) is False


def test_a_mapping_yields_nothing_one_value_or_a_list() -> None:
    document = {"payload": {"sections": [{"book": "A"}, {"book": "B"}]}, "data": {"total": 7}}
    assert compile_jpath("$.missing").query(document) is NOTHING
    assert compile_jpath("$.data.total").query(document) == 7
    assert compile_jpath("$..book").query(document) == ["A", "B"]


def test_a_mapping_of_a_null_node_yields_null() -> None:
    assert compile_jpath("$.x").query({"x": None}) is None


def test_a_mapping_of_one_list_node_yields_that_list() -> None:
    assert compile_jpath("$.xs").query({"xs": [1, 2]}) == [1, 2]


def test_a_program_runs_the_same_from_many_threads() -> None:
    program = compile_jpath("$.items[?match(@.sku, 'A-[0-9]+')].sku")
    documents = [{"items": [{"sku": f"A-{n}"}, {"sku": "B"}]} for n in range(200)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(program.query, documents))
    assert results == [f"A-{n}" for n in range(200)]


# --- errors and limits ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line", "column", "reason"),
    [
        ("$..[", 1, 5, "unbalanced brackets"),
        ("$.a[?@.b ==]", 1, 12, "unexpected end"),
        ("$.a ==", 1, 7, "unexpected end"),
        ("customer.active", 1, 1, "expected '$'"),
        ("$.a\n  .b[", 2, 6, "unbalanced brackets"),
        ("$[?length(@.*) > 1]", 1, 4, "length() argument 0"),
        ("$[?nope(@)]", 1, 4, "'nope' is not defined"),
        ("", 1, 1, "expected '$'"),
    ],
)
def test_a_bad_query_names_where_it_goes_wrong(
    source: str, line: int, column: int, reason: str
) -> None:
    with pytest.raises(ScriptSyntaxError) as caught:
        compile_jpath(source)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert reason in caught.value.reason


def test_text_that_only_wraps_into_a_longer_query_is_refused() -> None:
    with pytest.raises(ScriptSyntaxError):
        compile_jpath("@]..x[?@")


def test_a_backtracking_regex_stops_at_the_time_limit() -> None:
    program = compile_jpath("$[?match(@, '(a|aa)+b')]")
    with pytest.raises(ScriptLimitError) as caught:
        program.select(["a" * 60], time_limit=50)
    assert (caught.value.limit, caught.value.value) == ("milliseconds", 50)


def test_the_time_limit_is_for_the_whole_run() -> None:
    """Each match takes a few milliseconds here; two hundred of them go over 100 ms."""
    program = compile_jpath("$[?match(@, '(a|aa)+b')]")
    assert program.select(["a" * 22], time_limit=100) == []
    with pytest.raises(ScriptLimitError):
        program.select(["a" * 22] * 200, time_limit=100)


def test_a_descent_deeper_than_the_library_allows_fails_with_a_clear_error() -> None:
    document: dict[str, Any] = {}
    inner = document
    for _ in range(150):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(ScriptError, match=r"'\.\.' went deeper than 100"):
        compile_jpath("$..a").select(document)


def test_whitespace_around_a_query_does_not_turn_it_into_a_filter() -> None:
    program = compile_jpath("  $.data.total\n")
    assert program.query({"data": {"total": 7}}) == 7


def test_a_place_counts_the_whitespace_before_the_query() -> None:
    with pytest.raises(ScriptSyntaxError) as caught:
        compile_jpath("  $..[")
    assert (caught.value.line, caught.value.column) == (1, 7)


def test_a_match_stops_at_the_first_node() -> None:
    program = compile_jpath("$[?match(@, '(a|aa)+b')]")
    assert program.matches(["ab", "a" * 60], time_limit=50) is True


def test_jpath_loads_nothing_of_the_shell() -> None:
    """The core's rule (test_purity), for a module that may load its query library."""
    probe = (
        "import json, sys; before = set(sys.modules); import argyll.script.jpath; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stdout))
    assert loaded & {"asyncio", "socket", "sqlite3", "ssl", "selectors", "threading"} == set()
    third_party = {name for name in loaded if name not in sys.stdlib_module_names}
    assert third_party <= {"argyll", "jsonpath_rfc9535", "regex", "iregexp_check"}
