"""Compensation over real HTTP: order, one call at a time, retries, and a restart mid-way."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from argyll import Engine
from argyll.model import FlowState, FlowStatus, WorkStatus
from argyll.testing import Call, StepService, counter_tokens, wait_until

FAST = {"max_retries": 3, "init_backoff": 10, "max_backoff": 10, "backoff_type": "fixed"}


def http_step(
    step_id: str, url: str, requires: str, output: str, compensate: str | None = None
) -> dict[str, Any]:
    http: dict[str, Any] = {"endpoint": f"{url}/{step_id}", "timeout": 5000}
    if compensate is not None:
        http["compensate"] = f"{url}{compensate}"
    return {
        "id": step_id,
        "type": "sync",
        "attributes": {requires: {"role": "required"}, output: {"role": "output"}},
        "http": http,
        "work_config": FAST,
    }


class Shop:
    """pay → hold → reserve; reserve refuses (409), pay and hold are undone."""

    def __init__(self, refund_replies: list[int] | None = None) -> None:
        self.refund_replies = list(refund_replies or [])
        self.running = self.most_at_once = 0
        self.refund_gate: asyncio.Event | None = None
        self.service = StepService(self.answer)

    async def answer(self, call: Call) -> tuple[int, Any]:
        match call.path.split("/")[1]:
            case "pay":
                return 200, {"charge_id": f"ch-{call.body['amount']}"}
            case "hold":
                return 200, {"hold_id": "h-1"}
            case "reserve":
                return 409, {"detail": "out of stock"}
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(0.02)  # long enough that an overlapping call would be seen
            if call.path.startswith("/refund") and self.refund_gate is not None:
                await self.refund_gate.wait()
            if call.path.startswith("/refund") and self.refund_replies:
                return self.refund_replies.pop(0), {"detail": "try later"}
            return 200, {}
        finally:
            self.running -= 1

    def compensations(self) -> list[Call]:
        return [c for c in self.service.calls if c.path.startswith(("/refund", "/release"))]

    async def register(self, engine: Engine) -> None:
        url = self.service.url
        await engine.register_step(
            http_step("pay", url, "amount", "charge_id", "/refund/{charge_id}")
        )
        await engine.register_step(
            http_step("hold", url, "charge_id", "hold_id", "/release/{hold_id}")
        )
        await engine.register_step(http_step("reserve", url, "hold_id", "reservation"))


async def deactivated(engine: Engine, flow_id: str) -> FlowState:
    async def done() -> FlowState | None:
        state = await engine.get_flow(flow_id)
        return state if state.deactivated_at is not None else None

    return await wait_until(done, f"flow {flow_id} deactivated")


def statuses(state: FlowState) -> dict[str, list[WorkStatus]]:
    return {
        step: [item.status for item in execution.work_items.values()]
        for step, execution in state.executions.items()
    }


async def test_a_failed_flow_is_undone_latest_first_one_call_at_a_time() -> None:
    shop = Shop()
    async with shop.service, Engine(token_factory=counter_tokens()) as engine:
        await shop.register(engine)
        flow_id = await engine.start_flow(["reserve"], {"amount": 30})
        failed = await engine.wait_flow(flow_id, timeout=10)
        assert failed.status is FlowStatus.FAILED
        state = await deactivated(engine, flow_id)

    calls = shop.compensations()
    assert [c.path for c in calls] == ["/release/h-1", "/refund/ch-30"]
    assert shop.most_at_once == 1
    refund = calls[1]
    assert refund.body == {"input": {"amount": 30}, "output": {"charge_id": "ch-30"}}
    assert refund.headers["Argyll-Flow-Id"] == flow_id
    assert refund.headers["Argyll-Step-Id"] == "pay"
    assert refund.headers["Argyll-Receipt-Token"] == next(iter(state.executions["pay"].work_items))
    assert statuses(state)["pay"] == [WorkStatus.COMPENSATED]
    assert statuses(state)["hold"] == [WorkStatus.COMPENSATED]
    assert state.to_dict()["compensation"] == {
        "status": "compensated",
        "compensated": 2,
        "failed": 0,
        "pending": 0,
    }


async def test_a_refund_that_answers_5xx_is_retried_and_a_4xx_fails_it_for_good() -> None:
    shop = Shop(refund_replies=[503, 503])
    async with shop.service, Engine(token_factory=counter_tokens()) as engine:
        await shop.register(engine)
        flow_id = await engine.start_flow(["reserve"], {"amount": 5})
        state = await deactivated(engine, flow_id)
        events = [e["type"] for e in await engine.flow_events(flow_id)]
        assert events.count("comp_retry_scheduled") == 2
        assert statuses(state)["pay"] == [WorkStatus.COMPENSATED]

        shop.refund_replies = [400]
        second = await engine.start_flow(["reserve"], {"amount": 6})
        state = await deactivated(engine, second)
    (item,) = state.executions["pay"].work_items.values()
    assert item.status is WorkStatus.COMPENSATION_FAILED
    assert item.error is not None and item.error.startswith("HTTP 400")
    summary = state.to_dict()["compensation"]
    assert summary["status"] == "failed" and summary["failures"][0]["step_id"] == "pay"


async def test_cancel_compensates_what_succeeded() -> None:
    gate = asyncio.Event()

    async def answer(call: Call) -> tuple[int, Any]:
        if call.path == "/hold":
            await gate.wait()
        return 200, {"charge_id": "c", "hold_id": "h"}

    async with StepService(answer) as service, Engine(token_factory=counter_tokens()) as engine:
        url = service.url
        await engine.register_step(
            http_step("pay", url, "amount", "charge_id", "/refund/{charge_id}")
        )
        await engine.register_step(http_step("hold", url, "charge_id", "hold_id"))
        flow_id = await engine.start_flow(["hold"], {"amount": 1})
        await wait_until(lambda: any(c.path == "/hold" for c in service.calls), "hold called")
        await engine.cancel_flow(flow_id, "customer left")
        await wait_until(lambda: any(c.path == "/refund/c" for c in service.calls), "refund")
        gate.set()
        state = await deactivated(engine, flow_id)
    assert state.status is FlowStatus.CANCELED
    assert statuses(state)["pay"] == [WorkStatus.COMPENSATED]
    assert statuses(state)["hold"] == [WorkStatus.SUCCEEDED]  # late, and not compensable


async def test_a_restart_mid_compensation_carries_it_on(tmp_path: Path) -> None:
    shop = Shop()
    shop.refund_gate = asyncio.Event()
    store = f"sqlite:///{tmp_path / 'argyll.db'}"
    async with shop.service:
        async with Engine(store, token_factory=counter_tokens()) as engine:
            await shop.register(engine)
            flow_id = await engine.start_flow(["reserve"], {"amount": 7})
            await wait_until(lambda: len(shop.compensations()) == 2, "the refund is being made")
        # the engine stopped while the refund was in flight: it is still compensating
        shop.refund_gate.set()
        async with Engine(store, token_factory=counter_tokens("u")) as engine:
            state = await deactivated(engine, flow_id)
            settled = await engine.flow_events(flow_id)
        async with Engine(store) as engine:  # a settled flow is left as it is
            assert await engine.flow_events(flow_id) == settled
    paths = [c.path for c in shop.compensations()]
    assert paths == ["/release/h-1", "/refund/ch-7", "/refund/ch-7"]
    tokens = {c.headers["Argyll-Receipt-Token"] for c in shop.compensations()[1:]}
    assert len(tokens) == 1  # the same token both times: the service can tell a repeat
    assert statuses(state) == {
        "pay": [WorkStatus.COMPENSATED],
        "hold": [WorkStatus.COMPENSATED],
        "reserve": [WorkStatus.FAILED],
    }


async def test_a_surviving_instance_takes_over_a_compensation_its_peer_left(
    tmp_path: Path,
) -> None:
    shop = Shop()
    shop.refund_gate = asyncio.Event()
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    lease = {"lease_ttl": 0.5, "heartbeat_interval": 0.05}
    async with shop.service, Engine(store, instance_id="survivor", **lease) as survivor:
        async with Engine(
            store, token_factory=counter_tokens(), instance_id="peer", **lease
        ) as peer:
            await shop.register(peer)
            flow_id = await peer.start_flow(["reserve"], {"amount": 8})
            await wait_until(lambda: len(shop.compensations()) == 2, "the peer's refund call")
        shop.refund_gate.set()  # the peer is gone (its lease retired); its call is lost
        state = await deactivated(survivor, flow_id)
    refunds = [c for c in shop.compensations() if c.path.startswith("/refund")]
    assert len(refunds) == 2
    (item,) = state.executions["pay"].work_items.values()
    assert (item.status, item.owner) == (WorkStatus.COMPENSATED, "survivor")
