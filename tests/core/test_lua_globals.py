"""Lua globals a script reads that nothing gives it, found without running the script."""

from __future__ import annotations

import pytest

from argyll.script.lua import compile_lua
from argyll.script.lua_globals import SANDBOX_GLOBALS, unknown_globals

ELIGIBILITY = """local eligible = false
local reason = ""
if age < 18 then
  reason = "age below minimum (18)"
elseif age > 75 then
  reason = "age above maximum (75)"
else
  eligible = true
end
return {eligible = eligible, reason = reason}"""


@pytest.mark.parametrize(
    ("source", "given"),
    [
        (ELIGIBILITY, {"age"}),
        ("return email:find('@') ~= nil", {"email"}),
        ("return #items > 0 and items[1].status == 'approved'", {"items"}),
        ("local t = {}\nfor i, v in ipairs(items) do t[#t + 1] = v * 2 end\nreturn t", {"items"}),
        ("total = 0\nfor i = 1, n do total = total + i end\nreturn total", {"n"}),
        ("local function f(a, ...) return a end\nreturn f(1)", set()),
        ("--[==[ unknown ]==] return [[also unknown]] .. math.pi", set()),
        ("goto done\n::done::\nreturn {x = 1}", set()),
        ("local k <const> = 2 return k", set()),
    ],
)
def test_scripts_that_give_every_name_they_read_pass(source: str, given: set[str]) -> None:
    assert unknown_globals(source, given) == []


def test_an_unknown_global_is_named_with_where_it_is_first_read() -> None:
    found = unknown_globals(
        "return amount > 100\n  and statuss == 'active' and statuss", {"amount"}
    )
    assert [(g.name, g.line, g.column) for g in found] == [("statuss", 2, 7)]


def test_the_sandbox_gives_exactly_the_globals_the_check_allows() -> None:
    present = " and ".join(f"{name} ~= nil" for name in sorted(SANDBOX_GLOBALS))
    assert compile_lua(f"return {present}").run({}) is True
    assert compile_lua("return io == nil and os == nil and print == nil and load == nil").run({})
