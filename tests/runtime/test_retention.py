"""Retention in the engine: a sweep on an injected clock removes (and archives) old ended flows."""

import asyncio
import logging
from datetime import timedelta

import pytest
from test_compensation_runtime import Shop, deactivated

from argyll import Engine
from argyll.archive import read_events
from argyll.errors import ArgyllError, NotFoundError, StoreError, ValidationError
from argyll.events import flow_aggregate
from argyll.model import FlowStatus
from argyll.runtime.retention import RetentionPolicy
from argyll.store import open_store
from argyll.testing import FakeClock, wait_until

WAIT = 10.0
DAY_MS = 24 * 3600 * 1000

INCREMENT = {
    "id": "increment",
    "type": "script",
    "script": {"language": "ale", "script": "{:out (+ n 1)}"},
    "attributes": {"n": {"role": "required"}, "out": {"role": "output"}},
}

UNREACHABLE = {
    "id": "unreachable",
    "type": "sync",
    "http": {"endpoint": "http://127.0.0.1:9/never"},
    "attributes": {"out": {"role": "output"}},
    "work_config": {"max_retries": 3, "init_backoff": 3_600_000, "backoff_type": "fixed"},
}


async def finished(engine, flow_id, n=1):
    await engine.start_flow(["increment"], {"n": n}, flow_id=flow_id)
    return await engine.wait_flow(flow_id, timeout=WAIT)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
async def keeping_a_week(store_url, clock, tmp_path):
    policy = RetentionPolicy(days=7, archive=tmp_path / "archive")
    async with Engine(store_url, clock=clock, retention=policy) as engine:
        await engine.register_step(INCREMENT)
        yield engine


async def test_a_sweep_removes_only_flows_that_ended_before_the_cutoff(keeping_a_week, clock):
    engine = keeping_a_week
    old = await finished(engine, "old")
    clock.advance(6 * DAY_MS)
    recent = await finished(engine, "recent")
    clock.advance(2 * DAY_MS)

    report = await engine.sweep_history()

    assert old.status is FlowStatus.COMPLETED and recent.status is FlowStatus.COMPLETED
    assert report.removed == 1
    assert report.before == clock.now() - timedelta(days=7)
    with pytest.raises(NotFoundError):
        await engine.get_flow("old")
    assert await engine.store.read(flow_aggregate("old")) == []
    assert [flow.id for flow in await engine.list_flows()] == ["recent"]
    assert (await engine.get_flow("recent")).status is FlowStatus.COMPLETED
    exposed = engine.metrics.render(0).decode()
    assert "argyll_flows_removed_total 1.0" in exposed
    assert "argyll_retention_sweep_seconds_count" in exposed  # the start-up sweep and this one


async def test_removed_flows_are_archived_first_and_read_back(keeping_a_week, clock, tmp_path):
    engine = keeping_a_week
    await finished(engine, "first", 1)
    await finished(engine, "second", 2)
    stored = {
        flow_id: await engine.store.read(flow_aggregate(flow_id)) for flow_id in ("first", "second")
    }
    clock.advance(8 * DAY_MS)

    report = await engine.sweep_history()

    archive = tmp_path / "archive"
    (day_file,) = archive.iterdir()
    assert day_file.name == "2026-01-01.jsonl.gz"
    assert report.removed == 2 and report.archived == sum(map(len, stored.values()))
    for flow_id, events in stored.items():
        back = list(read_events(archive, flow_id))
        assert [(e.aggregate, e.seq, e.timestamp, e.data) for e in back] == [
            (e.aggregate, e.seq, e.timestamp, e.data) for e in events
        ]


async def test_sweeps_go_in_batches_until_none_is_left(store_url, clock, tmp_path):
    policy = RetentionPolicy(days=1, batch=2)
    async with Engine(store_url, clock=clock, retention=policy) as engine:
        await engine.register_step(INCREMENT)
        for n in range(5):
            await finished(engine, f"f{n}", n)
        clock.advance(2 * DAY_MS)

        report = await engine.sweep_history()

        assert report.removed == 5
        assert await engine.list_flows() == []
        assert (await engine.sweep_history()).removed == 0


async def test_a_running_flow_is_never_removed(keeping_a_week, clock):
    engine = keeping_a_week
    await engine.register_step(UNREACHABLE)
    await engine.start_flow(["unreachable"], {}, flow_id="waiting")
    await wait_until(lambda: engine.metrics.work, "the first failed attempt", timeout=WAIT)
    clock.advance(30 * DAY_MS)

    assert (await engine.sweep_history()).removed == 0
    assert (await engine.get_flow("waiting")).status is FlowStatus.ACTIVE


async def test_an_engine_sweeps_when_it_starts(store_url, clock, tmp_path):
    async with open_store(store_url) as store:
        async with Engine(store, clock=clock) as engine:
            await engine.register_step(INCREMENT)
            await finished(engine, "old")
            with pytest.raises(ArgyllError):
                await engine.sweep_history()
        clock.advance(8 * DAY_MS)
        policy = RetentionPolicy(days=7, archive=tmp_path / "archive")

        async with Engine(store, clock=clock, retention=policy) as engine:
            await wait_until(
                lambda: engine.metrics.flows_removed == 1, "the first sweep", timeout=WAIT
            )
            assert await engine.list_flows() == []
            archived = list(read_events(tmp_path / "archive", "old"))
            assert archived and archived[0].seq == 1


def test_a_policy_refuses_a_nonsense_retention_naming_each_field():
    with pytest.raises(ValidationError) as refused:
        RetentionPolicy(days=0, interval=-1, batch=0)

    fields = [field for field, _ in refused.value.problems]
    assert fields == ["retention.days", "retention.interval", "retention.batch"]


async def test_a_crash_between_archive_and_removal_archives_twice_and_loses_nothing(
    keeping_a_week, clock, tmp_path, monkeypatch
):
    engine = keeping_a_week
    await finished(engine, "old")
    stored = await engine.store.read(flow_aggregate("old"))
    clock.advance(8 * DAY_MS)
    removing = engine.store.remove_flows

    async def lost(flow_ids, before):
        raise StoreError("the store went away")

    monkeypatch.setattr(engine.store, "remove_flows", lost)
    with pytest.raises(StoreError):
        await engine.sweep_history()
    monkeypatch.setattr(engine.store, "remove_flows", removing)
    report = await engine.sweep_history()

    assert report.removed == 1
    archived = [(e.seq, e.data) for e in read_events(tmp_path / "archive", "old")]
    assert archived == [(e.seq, e.data) for e in stored] * 2


async def test_each_sweep_logs_one_line(keeping_a_week, clock, caplog):
    engine = keeping_a_week
    await finished(engine, "old")
    stored = await engine.store.read(flow_aggregate("old"))
    clock.advance(8 * DAY_MS)

    with caplog.at_level(logging.INFO, logger="argyll.retention"):
        await engine.sweep_history()

    (line,) = [
        record.getMessage() for record in caplog.records if record.name == "argyll.retention"
    ]
    assert "removed 1 flows" in line and f"archived {len(stored)} events" in line


async def test_a_failed_flow_still_compensating_is_kept_until_it_is_deactivated(store_url, clock):
    shop = Shop()
    shop.refund_gate = asyncio.Event()
    policy = RetentionPolicy(days=7)
    async with shop.service, Engine(store_url, clock=clock, retention=policy) as engine:
        await shop.register(engine)
        flow_id = await engine.start_flow(["reserve"], {"amount": 30})
        assert (await engine.wait_flow(flow_id, timeout=WAIT)).status is FlowStatus.FAILED
        await wait_until(
            lambda: any(call.path.startswith("/refund") for call in shop.compensations()),
            "the refund under way",
        )
        clock.advance(8 * DAY_MS)

        assert (await engine.sweep_history()).removed == 0
        assert (await engine.get_flow(flow_id)).deactivated_at is None

        shop.refund_gate.set()
        await deactivated(engine, flow_id)
        assert (await engine.sweep_history()).removed == 1
        with pytest.raises(NotFoundError):
            await engine.get_flow(flow_id)
