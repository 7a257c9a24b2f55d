"""Record golden event logs: run rich flows on an engine and write what the codec stores.

Run from the project root: ``python tests/golden/record.py tests/golden/v<N>`` (N the
schema version being recorded; never over a directory already committed), or with
log names after it to add only those logs (for event types new at that version). It
writes, per log, ``<name>.jsonl`` (one stored row a line: aggregate, seq,
timestamp, type, version and the payload text, all exactly as ``argyll.codec``
gives them) and ``<name>.state.json`` (the state the log folds to). Once
committed, the files are the fixture, not this script: ``test_golden.py`` checks
them forever.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from golden_state import catalog_state, flow_state

from argyll import Engine
from argyll.codec import encode, encode_time
from argyll.events import CATALOG, Event, flow_aggregate
from argyll.model import StepID
from argyll.subflow import child_flow_id
from argyll.testing import Call, StepService, counter_tokens, script_step

BACKOFF = {"init_backoff": 10, "max_backoff": 10, "backoff_type": "fixed", "max_retries": 3}


def row(event: Event) -> dict[str, Any]:
    event_type, version, payload = encode(event.data)
    return {
        "aggregate": event.aggregate,
        "seq": event.seq,
        "timestamp": encode_time(event.timestamp),
        "type": event_type,
        "version": version,
        "data": payload,
    }


def write(directory: Path, name: str, events: Sequence[Event], state: dict[str, Any]) -> None:
    lines = "".join(json.dumps(row(event), ensure_ascii=False) + "\n" for event in events)
    (directory / f"{name}.jsonl").write_text(lines, encoding="utf-8")
    text = json.dumps(state, indent=2, ensure_ascii=False) + "\n"
    (directory / f"{name}.state.json").write_text(text, encoding="utf-8")


def http_step(step_id: str, url: str, requires: str, output: str, **http: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "sync",
        "attributes": {requires: {"role": "required"}, output: {"role": "output"}},
        "http": {"endpoint": url, "method": "POST", "timeout": 5000, **http},
        "work_config": BACKOFF,
    }


async def record(directory: Path, only: Sequence[str] = ()) -> None:
    replies = iter([(503, {"detail": "busy"}), (500, None)])
    refunds = iter([(503, {"detail": "bank busy"}), (200, {})])
    healthy = True

    def answer(call: Call) -> tuple[int, Any]:
        if call.path == "/health":
            return (200, {}) if healthy else (503, {"detail": "database away"})
        if call.path == "/ack":
            return 202, None
        if call.path in SHOP_REPLIES:
            return SHOP_REPLIES[call.path]
        if call.path.startswith("/refund"):
            return next(refunds)
        total = sum(item["doubled"] for item in call.body["doubled"])
        return next(replies, (200, {"total": total}))

    async with (
        StepService(answer) as service,
        Engine(
            "memory://", token_factory=counter_tokens(), instance_id="golden", health_interval=3600
        ) as engine,
    ):
        await engine.register_step(
            script_step(
                "fan",
                "{:doubled (* n 2)}",
                requires=["n"],
                outputs=["doubled"],
                for_each=["n"],
                work_config={"parallelism": 2},
            )
        )
        await engine.update_step(
            "fan",
            script_step(
                "fan",
                "{:doubled (* n 2)}",
                requires=["n"],
                outputs=["doubled"],
                for_each=["n"],
                types={"n": "array"},
                work_config={"parallelism": 2},
                name="Double each n",
            ),
        )
        flaky = http_step("flaky", f"{service.url}/total", "doubled", "total")
        flaky["http"]["health_check"] = f"{service.url}/health"
        await engine.register_step(flaky)
        await engine.register_step(script_step("boom", "(/ 1 0)", outputs=["x"]))
        await engine.register_step(script_step("needs_x", "{:y x}", requires=["x"], outputs=["y"]))
        await engine.register_step(script_step("maybe", "{:z 1}", outputs=["z"], predicate="false"))
        await engine.register_step(script_step("uses_z", "{:w z}", requires=["z"], outputs=["w"]))
        await engine.register_step(script_step("obsolete", "{:o 1}", outputs=["o"]))
        await engine.unregister_step("obsolete")
        await engine.check_health()
        healthy = False
        await engine.check_health()

        success = await engine.start_flow(["flaky"], {"n": [1, 2, 3]}, flow_id="golden-success")
        await engine.wait_flow(success, timeout=10)
        failed = await engine.start_flow(["needs_x", "uses_z"], {}, flow_id="golden-failed")
        await engine.wait_flow(failed, timeout=10)

        operated, redriven = await operate(engine, service.url)
        parent, child = await sub_flow(engine)
        compensated = await compensate(engine, service.url)
        collected = await collect(engine)

        for name, aggregate in (
            ("success", flow_aggregate(success)),
            ("failed", flow_aggregate(failed)),
            ("operated", flow_aggregate(operated)),
            ("redriven", flow_aggregate(redriven)),
            ("subflow", flow_aggregate(parent)),
            ("subflow-child", flow_aggregate(child)),
            ("compensated", flow_aggregate(compensated)),
            ("collected", flow_aggregate(collected)),
        ):
            if not only or name in only:
                events = await engine.store.read(aggregate)
                write(directory, name, events, flow_state(events))
        if not only or "catalog" in only:
            events = await engine.store.read(CATALOG)
            write(directory, "catalog", events, catalog_state(events))


async def operate(engine: Engine, url: str) -> tuple[str, str]:
    """Two flows an operator works. One is paused, resumed, canceled, retried, and its
    async step completed by hand; the other fails and is retried with a step resolved."""
    waits = {
        "id": "waits",
        "type": "async",
        "attributes": {"go": {"role": "required"}, "done": {"role": "output"}},
        "http": {"endpoint": f"{url}/ack", "timeout": 5000},
    }
    await engine.register_step(waits)
    after = script_step("after", "{:finished done}", requires=["done"], outputs=["finished"])
    await engine.register_step(after)
    held = await engine.start_flow(["after"], {"go": 1}, flow_id="golden-operated")
    await engine.pause_flow(held, "deploying")
    await engine.resume_flow(held)
    await engine.cancel_flow(held, "wrong input")
    await engine.retry_flow(held, reason="input fixed")
    await engine.complete_step(held, "waits", {"done": True}, "confirmed by phone")
    await engine.wait_flow(held, timeout=10)
    redriven = await engine.start_flow(["needs_x"], {}, flow_id="golden-redriven")
    await engine.wait_flow(redriven, timeout=10)
    await engine.retry_flow(redriven, complete={"boom": {"x": 2}}, reason="x known")
    await engine.wait_flow(redriven, timeout=10)
    return held, redriven


async def sub_flow(engine: Engine) -> tuple[str, str]:
    """A flow step whose child doubles a number: the parent's log, and the child's (with its
    ``parent``)."""
    await engine.register_step(
        script_step("sf_double", "{:sf_y (* sf_x 2)}", requires=["sf_x"], outputs=["sf_y"])
    )
    await engine.register_step(
        {
            "id": "sf_twice",
            "type": "flow",
            "flow": {"goals": ["sf_double"]},
            "attributes": {"sf_x": {"role": "required"}, "sf_y": {"role": "output"}},
        }
    )
    parent = await engine.start_flow(["sf_twice"], {"sf_x": 21}, flow_id="golden-subflow")
    state = await engine.wait_flow(parent, timeout=10)
    (token,) = state.executions[StepID("sf_twice")].work_items
    return parent, child_flow_id(parent, StepID("sf_twice"), token)


SHOP_REPLIES = {
    "/pay": (200, {"charge": "ch-1"}),
    "/hold": (200, {"hold": "h-1"}),
    "/reserve": (409, {"detail": "out of stock"}),
    "/release/h-1": (404, {"detail": "no such hold"}),
}


async def compensate(engine: Engine, url: str) -> str:
    """A flow that fails at its last step: the hold's release is refused for good (4xx),
    the payment's refund is retried once (5xx) and then done; the flow is deactivated."""
    pay = http_step("pay", f"{url}/pay", "amount", "charge", compensate=f"{url}/refund/{{charge}}")
    hold = http_step("hold", f"{url}/hold", "charge", "hold", compensate=f"{url}/release/{{hold}}")
    for step in (pay, hold, http_step("reserve", f"{url}/reserve", "hold", "reservation")):
        await engine.register_step(step)
    flow_id = await engine.start_flow(["reserve"], {"amount": 5}, flow_id="golden-compensated")
    for _ in range(500):
        if (await engine.get_flow(flow_id)).deactivated_at is not None:
            return flow_id
        await asyncio.sleep(0.01)
    raise TimeoutError("the compensated flow did not settle")


async def collect(engine: Engine) -> str:
    """A flow whose attribute two steps give (candidates) and whose gates skip (unsatisfied)."""
    for step_id, bid in (("bid_a", 3), ("bid_b", 8)):
        await engine.register_step(script_step(step_id, f"{{:bid {bid}}}", outputs=["bid"]))
    gathers = script_step("pick", "{:picked bid}", outputs=["picked"])
    gathers["attributes"]["bid"] = {"role": "required", "required": {"collect": "all"}}
    await engine.register_step(gathers)
    gated = script_step("cheap_only", "{:cheap true}", outputs=["cheap"])
    match = {"language": "ale", "script": "(< value 5)"}
    gate = {"collect": "all", "match": match}
    gated["attributes"]["bid"] = {"role": "required", "required": gate}
    await engine.register_step(gated)
    flow = await engine.start_flow(["pick", "cheap_only"], {}, flow_id="golden-collected")
    await engine.wait_flow(flow, timeout=10)
    return flow


if __name__ == "__main__":
    target, only = Path(sys.argv[1]), sys.argv[2:]
    if only:  # add logs of new event types to a committed directory, never over one
        taken = [name for name in only if (target / f"{name}.jsonl").exists()]
        if taken:
            raise SystemExit(f"{', '.join(taken)} exist in {target}: never written over")
    elif target.exists():
        raise SystemExit(f"{target} exists: golden logs are never written over")
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(record(target, only))
