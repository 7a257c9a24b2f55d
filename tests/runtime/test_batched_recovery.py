"""A restart reads its running flows back in batches; every one of them goes on, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from argyll import Engine
from argyll.apply import fold_flow
from argyll.events import WorkStarted, flow_aggregate
from argyll.model import FlowStatus
from argyll.runtime.recovery import RECOVERY_BATCH, read_flows
from argyll.store import open_store
from argyll.testing import ORPHANING_INSTANCE, script_step, write_orphaned_flows

DOUBLE = script_step("double", "{:y (* 2 x)}", requires=["x"], outputs=["y"])
FLOWS = RECOVERY_BATCH + 250
"""More than one batch, and a batch left over."""


@pytest.fixture(params=["sqlite", "redis"])
def durable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite:///{tmp_path / 'argyll.db'}"


async def test_every_flow_a_dead_instance_held_completes_its_work_taken_over_once(
    durable_url: str,
) -> None:
    async with await open_store(durable_url) as store:
        ids = await write_orphaned_flows(store, DOUBLE, FLOWS, init={"x": 21})

    async with Engine(durable_url) as engine:
        ended = [await engine.wait_flow(flow_id, timeout=60) for flow_id in ids]
        logs = [await engine.store.read(flow_aggregate(flow_id)) for flow_id in ids]

    assert {state.status for state in ended} == {FlowStatus.COMPLETED}
    assert {state.attributes["y"].value for state in ended} == {42}
    for events in logs:
        owners = [event.data.instance for event in events if isinstance(event.data, WorkStarted)]
        assert owners[0] == ORPHANING_INSTANCE
        assert len(owners) == 2, owners  # the dead instance's start, then one takeover


async def test_read_flows_folds_from_a_snapshot_and_leaves_out_what_has_no_events() -> None:
    async with await open_store("memory://") as store:
        first, second = await write_orphaned_flows(store, DOUBLE, 2, init={"x": 1})
        whole = fold_flow(await store.read(flow_aggregate(first)))
        altered = {**whole.to_dict(), "labels": {"from": "snapshot"}}
        await store.save_snapshot(flow_aggregate(first), whole.version, altered)

        states = await read_flows(store, [first, "no-such-flow", second])
        unsnapshotted = fold_flow(await store.read(flow_aggregate(second)))

    assert [state.id for state in states] == [first, second]
    assert states[0].labels == {"from": "snapshot"}  # read through the snapshot, not refolded
    assert states[0].version == whole.version
    assert states[1] == unsnapshotted
