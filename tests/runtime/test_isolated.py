"""Scripts in a child process: values and errors come back; a runaway child is killed."""

import pytest

from argyll.errors import ScriptError, ScriptLimitError
from argyll.model import Language, ScriptConfig
from argyll.runtime.isolated import run_isolated


def lua(source: str) -> ScriptConfig:
    return ScriptConfig(Language.LUA, source)


async def test_the_value_comes_back():
    value = await run_isolated(lua("return {n = n + 1, s = ('x'):rep(3)}"), {"n": 1}, 5)
    assert value == {"n": 2, "s": "xxx"}


async def test_errors_and_limits_come_back_typed():
    with pytest.raises(ScriptError) as caught:
        await run_isolated(lua("error('boom')"), {}, 5)
    assert not isinstance(caught.value, ScriptLimitError)
    assert "boom" in str(caught.value)
    with pytest.raises(ScriptLimitError) as limited:
        await run_isolated(lua("while true do end"), {}, 5)
    assert limited.value.limit == "instructions"


async def test_a_child_stuck_in_c_code_is_killed_at_its_limit():
    backtracking = lua('return (("a"):rep(3000)):find(".-.-b")')
    with pytest.raises(ScriptLimitError) as caught:
        await run_isolated(backtracking, {}, 0.5)
    assert caught.value.limit == "seconds"
