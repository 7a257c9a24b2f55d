"""SDK steps that speak their own names: renamed inputs and outputs, const and meta parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from argyll.errors import ValidationError
from argyll.model import Role
from argyll.sdk import StepServer
from argyll.server import LocalEngine, serve_engine


@pytest.fixture
async def local() -> AsyncIterator[LocalEngine]:
    async with await serve_engine() as served:
        yield served


@pytest.fixture
async def steps(local: LocalEngine) -> AsyncIterator[StepServer]:
    server = StepServer(engine=local.engine)
    yield server
    await server.aclose()


async def test_a_function_speaks_its_names_and_the_flow_its_own(
    local: LocalEngine, steps: StepServer
) -> None:
    seen: list[dict[str, Any]] = []

    @steps.step(
        outputs={"msg": str},
        rename={"who": "user_name", "msg": "message"},
        consts={"greeting": "Hello"},
        meta={"token": "receipt_token", "flow": "flow_id"},
    )
    def greet(who: str, token: str, flow: str, greeting: str = "Hi") -> dict[str, str]:
        seen.append({"who": who, "token": token, "flow": flow})
        return {"msg": f"{greeting}, {who}"}

    await steps.start()
    definition = local.engine.get_step("greet")
    assert definition.attributes["user_name"].inner_name == "who"
    assert definition.attributes["greeting"].role is Role.CONST
    assert definition.attributes["token"].role is Role.META
    assert definition.attributes["message"].inner_name == "msg"

    flow_id = await local.engine.start_flow(["greet"], {"user_name": "Ann"})
    state = await local.engine.wait_flow(flow_id, timeout=10)
    assert state.attributes["message"].value == "Hello, Ann"
    (call,) = seen
    assert call == {
        "who": "Ann",
        "token": next(iter(state.executions["greet"].work_items)),
        "flow": flow_id,
    }


def test_names_the_function_does_not_have_are_refused() -> None:
    steps = StepServer()

    def add(a: int) -> dict[str, int]:
        return {"b": a}

    with pytest.raises(ValidationError) as refused:
        steps.step(outputs={"b": int}, rename={"c": "x", "a": "y"}, meta={"a": "nope"})(add)
    wheres = [where for where, _ in refused.value.problems]
    assert wheres == ["add.a", "add.rename.c", "add.rename.a"]
