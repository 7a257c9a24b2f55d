"""``RemoteEngine``: the dashboard's engine over ``AsyncClient``, errors typed as in process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from argyll.errors import MissingInputsError, NotFoundError, UnknownGoalsError
from argyll.events import Event
from argyll.server import LocalEngine, serve_engine
from argyll.testing import script_step
from argyll.ui.feed import RemoteEngine

ADD = script_step("add", "{:c (+ n 2)}", requires=["n"], outputs=["c"])


@pytest.fixture
async def local() -> AsyncIterator[LocalEngine]:
    async with await serve_engine() as served:
        await served.engine.register_step(ADD)
        yield served


@pytest.fixture
async def remote(local: LocalEngine) -> AsyncIterator[RemoteEngine]:
    engine = RemoteEngine(local.url)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.aclose()


async def test_refusals_are_the_engines_own_errors_with_their_fields(remote: RemoteEngine) -> None:
    with pytest.raises(MissingInputsError) as missing:
        await remote.start_flow(["add"])
    assert missing.value.inputs == ["n"]
    with pytest.raises(UnknownGoalsError) as unknown:
        await remote.start_flow(["nope"], {"n": 1})
    assert unknown.value.goals == ["nope"]
    with pytest.raises(NotFoundError) as ghost:
        await remote.update_step("ghost", ADD | {"id": "ghost"})
    assert (ghost.value.kind, ghost.value.ident) == ("step", "ghost")


async def test_every_events_call_gets_every_event_and_the_catalog_follows(
    remote: RemoteEngine,
) -> None:
    first, second = remote.events(), remote.events()
    await remote.register_step(script_step("late", "{:z 1}", outputs=["z"]))
    flow_id = await remote.start_flow(["add"], {"n": 1})

    async def until_flow_ends(events: AsyncIterator[Event]) -> list[str]:
        seen: list[str] = []
        async for event in events:
            seen.append(event.type)
            if event.type == "flow_completed":
                return seen
        return seen

    async with asyncio.timeout(10):
        one, two = await asyncio.gather(until_flow_ends(first), until_flow_ends(second))
    assert one == two and one[0] == "step_registered" and "flow_started" in one
    assert "late" in remote.catalog.steps
    types = [event["type"] for event in await remote.flow_events(flow_id)]
    assert types[-2:] == ["flow_completed", "flow_deactivated"]


async def test_a_step_deleted_through_it_leaves_the_engine_and_its_catalog(
    local: LocalEngine, remote: RemoteEngine
) -> None:
    events = remote.events()
    await remote.unregister_step("add")
    assert "add" not in local.engine.catalog.steps
    async with asyncio.timeout(10):
        async for event in events:
            if event.type == "step_unregistered":
                break
    assert "add" not in remote.catalog.steps
    with pytest.raises(NotFoundError):
        await remote.unregister_step("add")
