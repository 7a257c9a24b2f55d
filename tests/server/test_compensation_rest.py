"""Compensation seen from outside: a real step service, the REST API, nothing in-process."""

from __future__ import annotations

from typing import Any

from server_support import Api, problem

from argyll.testing import Call, StepService, wait_until


def steps(url: str) -> list[dict[str, Any]]:
    pay = {
        "id": "pay",
        "type": "sync",
        "attributes": {"amount": {"role": "required"}, "charge_id": {"role": "output"}},
        "http": {"endpoint": f"{url}/pay", "compensate": f"{url}/refund/{{charge_id}}"},
    }
    reserve = {
        "id": "reserve",
        "type": "sync",
        "attributes": {"charge_id": {"role": "required"}, "reservation": {"role": "output"}},
        "http": {"endpoint": f"{url}/reserve"},
    }
    return [pay, reserve]


def answer(call: Call) -> tuple[int, Any]:
    if call.path == "/pay":
        return 200, {"charge_id": "ch-9"}
    if call.path == "/reserve":
        return 409, {"title": "Conflict", "status": 409, "detail": "out of stock"}
    return 200, {"refunded": True}


async def test_a_failed_flow_is_refunded_and_says_so(api: Api) -> None:
    async with StepService(answer) as service:
        for step in steps(service.url):
            response = await api.client.post("/engine/step", json=step)
            assert response.status_code == 201, response.text
        read_back = (await api.client.get("/engine/step/pay")).json()
        assert read_back["http"]["compensate"] == f"{service.url}/refund/{{charge_id}}"

        started = await api.client.post(
            "/engine/flow", json={"goals": ["reserve"], "init": {"amount": 9}}
        )
        flow_id = started.json()["flow_id"]

        async def settled() -> dict[str, Any] | None:
            state = (await api.client.get(f"/engine/flow/{flow_id}")).json()
            return state if "deactivated_at" in state else None

        state = await wait_until(settled, "the flow deactivated")

    (refund,) = [c for c in service.calls if c.path.startswith("/refund")]
    assert refund.path == "/refund/ch-9"
    assert refund.body == {"input": {"amount": 9}, "output": {"charge_id": "ch-9"}}
    assert state["status"] == "failed" and "out of stock" in state["error"]
    (item,) = state["executions"]["pay"]["work_items"].values()
    assert item["status"] == "compensated"
    assert state["compensation"] == {
        "status": "compensated",
        "compensated": 1,
        "failed": 0,
        "pending": 0,
    }

    events = (await api.client.get(f"/engine/flow/{flow_id}/events")).json()["events"]
    types = [event["type"] for event in events]
    assert types[-4:] == ["flow_failed", "comp_started", "comp_succeeded", "flow_deactivated"]
    assert events[-1]["data"] == {"flow_id": flow_id, "status": "failed"}

    explained = (await api.client.get(f"/engine/flow/{flow_id}/explain")).json()
    assert explained["compensation"]["status"] == "compensated"
    assert set(explained["steps"]["pay"]["detail"]["compensation"].values()) == {"compensated"}

    retried = await api.client.post(f"/engine/flow/{flow_id}/retry", json={})
    assert "compensated" in problem(retried, 409)["detail"]


async def test_a_refund_refused_for_good_is_listed_on_the_flow(api: Api) -> None:
    def refusing(call: Call) -> tuple[int, Any]:
        if call.path.startswith("/refund"):
            return 404, {"title": "Not Found", "status": 404, "detail": "no such charge"}
        return answer(call)

    async with StepService(refusing) as service:
        for step in steps(service.url):
            await api.client.post("/engine/step", json=step)
        started = await api.client.post(
            "/engine/flow", json={"goals": ["reserve"], "init": {"amount": 1}}
        )
        flow_id = started.json()["flow_id"]

        async def settled() -> dict[str, Any] | None:
            state = (await api.client.get(f"/engine/flow/{flow_id}")).json()
            return state if "deactivated_at" in state else None

        state = await wait_until(settled, "the flow deactivated")
    assert len([c for c in service.calls if c.path.startswith("/refund")]) == 1  # a 4xx: no retry
    compensation = state["compensation"]
    assert compensation["status"] == "failed"
    (failure,) = compensation["failures"]
    assert failure["step_id"] == "pay" and failure["error"] == "HTTP 404: no such charge"
