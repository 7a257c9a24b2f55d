"""Lua scripts: data in and out, the sandbox, the limits, and running from many threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from argyll.errors import ScriptError, ScriptLimitError, ScriptSyntaxError
from argyll.script.lua import DEFAULT_INSTRUCTION_LIMIT, DEFAULT_MEMORY_LIMIT, compile_lua


def run(source: str, bindings: dict[str, Any] | None = None, **limits: int) -> Any:
    return compile_lua(source).run(bindings or {}, **limits)


# --- data in and out ---------------------------------------------------------


def test_the_engines_everyday_script() -> None:
    result = run("return {total = quantity * unit_price}", {"quantity": 3, "unit_price": 2.5})
    assert result == {"total": 7.5}


def test_a_dict_comes_back_as_the_same_dict() -> None:
    order = {"id": "A-1", "lines": [{"sku": "x", "qty": 2}, {"sku": "y", "qty": 1}], "paid": True}
    assert run("return order", {"order": order}) == order


def test_nested_lists_come_back_as_lists() -> None:
    assert run("return {{1, 2}, {3, {4, 5}}, {}}") == [[1, 2], [3, [4, 5]], {}]


def test_a_list_input_is_a_one_based_sequence() -> None:
    assert run("return {first = items[1], count = #items}", {"items": ["a", "b", "c"]}) == {
        "first": "a",
        "count": 3,
    }


def test_a_none_input_is_nil() -> None:
    assert run("return missing == nil", {"missing": None}) is True
    assert run("return {a = x.a, b = x.b}", {"x": {"a": 1, "b": None}}) == {"a": 1}


def test_the_empty_table_is_an_empty_dict() -> None:
    assert run("return {}") == {}


def test_other_tables_are_dicts_with_string_keys() -> None:
    assert run("return {[1] = 'a', [3] = 'c'}") == {"1": "a", "3": "c"}
    assert run("return {10, 20, x = 30}") == {"1": 10, "2": 20, "x": 30}
    assert run("return {[1.5] = true}") == {"1.5": True}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("return 3", 3),
        ("return 3.5", 3.5),
        ("return 7 // 2", 3),
        ("return 'héllo'", "héllo"),
        ("return false", False),
        ("return nil", None),
    ],
)
def test_scalars(source: str, expected: Any) -> None:
    result = run(source)
    assert result == expected
    assert type(result) is type(expected)


def test_no_return_is_none() -> None:
    assert run("local x = 1") is None


def test_only_the_first_of_several_values_counts() -> None:
    assert run("return 1, 2, 3") == 1


@pytest.mark.parametrize(
    "source",
    [
        "return function() end",
        "return {f = tostring}",
        "local t = {} t.self = t return t",
        "return {[{}] = 1}",
        "return {[true] = 1}",
    ],
)
def test_results_that_are_not_plain_data_are_refused(source: str) -> None:
    with pytest.raises(ScriptError, match="script returned"):
        run(source)


def test_a_string_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(ScriptError, match="UTF-8"):
        run(r"return '\xff'")


def test_a_python_object_cannot_be_passed_in() -> None:
    with pytest.raises(ScriptError, match="cannot pass"):
        run("return x", {"x": object()})


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda inner: (
        st.lists(inner, min_size=1).filter(lambda items: None not in items)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"])), inner)
    ),
    max_leaves=20,
)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


@settings(max_examples=200, deadline=None)
@given(_json)
def test_json_data_round_trips(value: Any) -> None:
    """Nulls in a table vanish (Lua cannot hold nil in one); everything else survives."""
    assert run("return value", {"value": value}) == _without_nulls(value)


# --- the sandbox -------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        'os.execute("true")',
        'io.open("/etc/passwd")',
        'require("os")',
        'load("return 1")()',
        'loadstring("return 1")()',
        'dofile("/etc/passwd")',
        'loadfile("/etc/passwd")()',
        "string.dump(print)",
        "string.dump(function() end)",
        "debug.getinfo(1)",
        'python.eval("1")',
        "python.builtins.open('/etc/passwd')",
        "_G.os.execute('true')",
        "_ENV.io.open('/etc/passwd')",
        "package.loadlib('libc.so.6', 'system')",
        "collectgarbage()",
        '("x"):dump()',
        '("x").dump(function() end)',
        'getmetatable("").__index.dump(function() end)',
        "getmetatable(_ENV).__index(_ENV, 'os')",
        "coroutine.wrap(function() end)()",
        "xpcall(function() end, print)",
        "setmetatable({}, {__gc = function() end})",
    ],
)
def test_escapes_are_refused_when_run(source: str) -> None:
    program = compile_lua(source)
    with pytest.raises(ScriptError):
        program.run({})


def test_the_safe_libraries_are_there() -> None:
    source = """
    return {
      string.format("%d-%s", 7, ("ab"):upper()), table.concat({1, 2}, ","), math.max(1, 5),
      utf8.char(233), select("#", 1, 2), tonumber("12"), type(pairs), pcall(error, "x"),
      _G == _ENV, math.random(1, 3) <= 3, rawlen({1, 2}), unpack({9}), table.unpack({8}),
    }
    """
    assert run(source) == ["7-AB", "1,2", 5, "é", 2, 12, "function", False, True, True, 2, 9, 8]


def test_an_input_may_shadow_a_builtin() -> None:
    assert run("return type", {"type": "invoice"}) == "invoice"


def test_a_run_does_not_see_a_previous_runs_globals() -> None:
    run("leaked = 42; string.leaked = 1; math.pi = 3; _G.also = true")
    source = "return {leaked == nil, string.leaked == nil, math.pi > 3.1, also == nil}"
    assert run(source) == [True, True, True, True]


def test_runtime_errors_carry_the_line() -> None:
    with pytest.raises(ScriptError, match=r"^line 2: boom$"):
        run("local x = 1\nerror('boom')")
    with pytest.raises(ScriptError, match=r"^line 1: attempt to perform arithmetic"):
        run("return quantity * 2", {})


def test_a_non_string_error_is_described() -> None:
    with pytest.raises(ScriptError, match="error object is a table value"):
        run("error({code = 1})")


# --- compiling ---------------------------------------------------------------


def test_a_syntax_error_reports_its_line() -> None:
    with pytest.raises(ScriptSyntaxError) as caught:
        compile_lua("local a = 1\nlocal b = 2\nreturn a + )\nend")
    assert caught.value.line == 3
    assert "line 3" in str(caught.value)


def test_compiling_does_not_run_the_script() -> None:
    compile_lua("while true do end")
    compile_lua("error('ran')")


def test_compiled_program_keeps_its_source() -> None:
    assert compile_lua("return 1").source == "return 1"


# --- limits ------------------------------------------------------------------


def test_an_infinite_loop_is_stopped() -> None:
    with pytest.raises(ScriptLimitError) as caught:
        run("while true do end")
    assert (caught.value.limit, caught.value.value) == ("instructions", DEFAULT_INSTRUCTION_LIMIT)


def test_the_instruction_limit_can_be_lowered() -> None:
    program = compile_lua("local n = 0 for i = 1, 1000 do n = n + i end return n")
    assert program.run({}) == 500500
    with pytest.raises(ScriptLimitError) as caught:
        program.run({}, instruction_limit=100)
    assert caught.value.value == 100


def test_pcall_cannot_swallow_the_instruction_limit() -> None:
    with pytest.raises(ScriptLimitError, match="instructions"):
        run("while true do pcall(function() while true do end end) end")


def test_a_close_handler_cannot_buy_more_time() -> None:
    source = """
    local guard <close> = setmetatable({}, {__close = function() while true do end end})
    while true do end
    """
    with pytest.raises(ScriptLimitError, match="instructions"):
        run(source)


@pytest.mark.parametrize("instruction_limit", [100_000, DEFAULT_INSTRUCTION_LIMIT])
def test_runaway_recursion_is_stopped(instruction_limit: int) -> None:
    with pytest.raises(ScriptLimitError):
        run("local function f() return f() + 1 end return f()", instruction_limit=instruction_limit)


def test_runaway_metamethod_recursion_is_stopped() -> None:
    source = "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x"
    with pytest.raises(ScriptLimitError):
        run(source)


def test_a_huge_string_hits_the_memory_limit() -> None:
    with pytest.raises(ScriptLimitError) as caught:
        run('return string.rep("x", 1e10)')
    assert (caught.value.limit, caught.value.value) == ("memory", DEFAULT_MEMORY_LIMIT)


def test_a_growing_table_hits_a_lowered_memory_limit() -> None:
    with pytest.raises(ScriptLimitError, match="memory") as caught:
        run("local t = {} while true do t[#t + 1] = {} end", memory_limit=1 << 20)
    assert caught.value.value == 1 << 20


def test_an_exponential_result_is_stopped() -> None:
    with pytest.raises(ScriptLimitError):
        run("local t = {} for i = 1, 60 do t = {t, t} end return t")


@pytest.mark.parametrize(
    "runaway",
    [
        "while true do end",
        'return string.rep("x", 1e10)',
        "local function f() return f() + 1 end return f()",
    ],
)
def test_the_runtime_still_works_after_a_limit(runaway: str) -> None:
    with pytest.raises(ScriptLimitError):
        run(runaway)
    assert run("return {n = n + 1}", {"n": 1}) == {"n": 2}
    assert run('return ("ok"):upper()') == "OK"


def test_every_budget_boundary_either_finishes_or_stops_cleanly() -> None:
    """The budget may run out anywhere, even inside the runner's own bookkeeping."""
    program = compile_lua("local t = {a = 1} for i = 1, 3 do t[i] = i end return t")
    outcomes = set()
    for limit in range(1, 120):
        try:
            assert program.run({}, instruction_limit=limit) == {"a": 1, "1": 1, "2": 2, "3": 3}
            outcomes.add("ok")
        except ScriptLimitError as exc:
            outcomes.add(exc.limit)
        assert run("return 1") == 1
    assert outcomes == {"ok", "instructions"}


# --- threads -----------------------------------------------------------------


def test_threads_run_scripts_concurrently() -> None:
    program = compile_lua("return {double = x * 2, who = name, seen = leaked}")
    other = compile_lua("leaked = name; return #name")

    def work(worker: int) -> list[Any]:
        results = []
        for index in range(200):
            name = f"w{worker}-{index}"
            results.append(program.run({"x": index, "name": name}))
            results.append(other.run({"name": name}))
        return results

    with ThreadPoolExecutor(8) as pool:
        for worker, results in enumerate(pool.map(work, range(8))):
            for index in range(200):
                name = f"w{worker}-{index}"
                assert results[2 * index] == {"double": index * 2, "who": name}
                assert results[2 * index + 1] == len(name)
