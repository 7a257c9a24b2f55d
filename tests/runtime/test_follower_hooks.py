"""What rides on an engine's one follower, and engines sharing a store seeing each other's steps."""

from __future__ import annotations

from pathlib import Path

from argyll import Engine
from argyll.events import Event
from argyll.testing import script_step, wait_until

HELLO = script_step("hello", '{:greeting "hi"}', outputs=["greeting"])


async def test_a_listener_sees_every_event_of_the_feed_until_undone(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    seen: list[Event] = []
    async with Engine(store) as mine, Engine(store) as other:
        undo = mine.on_event(seen.append)
        await other.register_step(HELLO)
        theirs = await other.start_flow(["hello"])
        await other.wait_flow(theirs, timeout=10)
        own = await mine.start_flow(["hello"])
        await mine.wait_flow(own, timeout=10)

        def flows_ended() -> set[str]:
            ended = {e.aggregate for e in seen if e.type == "flow_completed"}
            return ended if len(ended) == 2 else set()

        assert await wait_until(flows_ended, "both flows' ends") == {
            f"flow:{theirs}",
            f"flow:{own}",
        }
        assert any(e.type == "step_registered" for e in seen)
        undo()
        count = len(seen)
        last = await other.start_flow(["hello"])
        await mine.wait_flow(last, timeout=10)  # mine followed it to its end
    assert len(seen) == count


async def test_a_flow_of_a_step_another_engine_just_registered_starts(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    async with Engine(store) as registering, Engine(store) as starting:
        await registering.register_step(HELLO)
        flow_id = await starting.start_flow(["hello"])  # before its follower could see the step
        state = await starting.wait_flow(flow_id, timeout=10)
    assert state.attributes["greeting"].value == "hi"
