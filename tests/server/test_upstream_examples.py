"""Step definitions shaped like upstream Argyll's documented examples register and run here.

The fixtures (``upstream_examples.py``) keep each example's fields and nesting with our own
names; every test serves them from a real HTTP step service on loopback and starts flows
over REST, as a user who copied the example would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import upstream_examples as ex
from server_support import Api, running_api

from argyll.testing import Call, StepService

WEBHOOK = "argyll-webhook-url"


class Service:
    """A step service answering each example's endpoint, as its docs describe."""

    def __init__(self) -> None:
        self.service: StepService | None = None
        self.posted: set[asyncio.Task[None]] = set()

    @property
    def calls(self) -> list[Call]:
        assert self.service is not None
        return self.service.calls

    def paths(self) -> list[str]:
        return [call.path for call in self.calls]

    def body_at(self, path: str) -> Any:
        return next(call.body for call in self.calls if call.path == path)

    def answer(self, call: Call) -> tuple[int, Any]:
        body = call.body or {}
        match call.path:
            case "/members/find":
                return 200, {"member": {"id": body["member_id"]}}
            case "/transfers/start":
                webhook = {k.lower(): v for k, v in call.headers.items()}[WEBHOOK]
                task = asyncio.get_running_loop().create_task(
                    _post(webhook, {"transfer_id": f"tr-{body['sum']}"})
                )
                self.posted.add(task)
                return 202, None
            case "/orders":
                return 200, {"order_ref": "o-1", "grand_total": len(body["basket"])}
            case "/alert":
                return 200, {"alerted": True}
            case "/lines":
                return 200, {"line_total": body["lines"]["qty"] * 2}
            case "/receipts":
                return 200, {"sent": body["email"]}
            case "/bill":
                return 200, {"billed": body["order_sum"]}
            case "/tag":
                return 200, {"tagged": body["buyerKey"]}
            case "/parcels/ship":
                return 200, {"shipped_parcel": {"parcel": body["parcels"]}}
            case "/deposits":
                return 200, {"deposit_id": "d-7"}
            case "/seats/hold":
                return 409, {"detail": "no seats left"}
            case "/rates":
                return 200, {"rate": 1.1}
            case "/stamp":
                return 200, {"stamped": [body["channel"], body["flow"]]}
        if call.path.endswith("/refund"):
            return 200, {}
        return 404, {"detail": f"no such endpoint {call.path}"}


async def _post(url: str, outputs: dict[str, Any]) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        await client.post(url, json=outputs)


@pytest.fixture
async def served() -> AsyncIterator[tuple[Api, Service]]:
    service = Service()
    async with StepService(service.answer) as step_service, running_api() as api:
        service.service = step_service
        yield api, service


async def register(api: Api, service: Service, *definitions: dict[str, Any]) -> None:
    for definition in definitions:
        assert service.service is not None
        body = ex.served(definition, service.service.url)
        response = await api.client.post("/engine/step", json=body)
        assert response.status_code == 201, response.text


async def run(
    api: Api, goal: str, init: dict[str, Any], status: str = "completed"
) -> dict[str, Any]:
    response = await api.client.post("/engine/flow", json={"goals": [goal], "init": init})
    assert response.status_code == 201, response.text
    return await api.wait_flow(response.json()["flow_id"], status)


def values(state: dict[str, Any]) -> dict[str, Any]:
    return {name: a["value"] for name, a in state["attributes"].items()}


@pytest.mark.parametrize("name", sorted(ex.ALL))
async def test_each_example_registers_and_reads_back_as_registered(
    served: tuple[Api, Service], name: str
) -> None:
    api, service = served
    if name == "sub_flow":
        await register(api, service, ex.CHILD_GOAL)
    await register(api, service, ex.ALL[name])
    read = (await api.client.get(f"/engine/step/{ex.ALL[name]['id']}")).json()
    again = await api.client.put(f"/engine/step/{read['id']}", json=read)
    assert again.status_code == 200, again.text
    assert (await api.client.get(f"/engine/step/{read['id']}")).json() == read


async def test_a_sync_lookup_leaves_out_a_missing_optional_input(served) -> None:
    api, service = served
    await register(api, service, ex.LOOKUP_CUSTOMER)
    state = await run(api, "find-member", {"member_id": "m-3"})
    assert values(state)["member"] == {"id": "m-3"}
    assert service.body_at("/members/find") == {"member_id": "m-3"}


async def test_an_async_payment_completes_by_its_webhook(served) -> None:
    api, service = served
    await register(api, service, ex.START_PAYMENT)
    state = await run(api, "start-transfer", {"sum": 12})
    assert values(state)["transfer_id"] == "tr-12"


async def test_a_discount_script_computes_its_output(served) -> None:
    api, service = served
    await register(api, service, ex.DISCOUNT_SCRIPT)
    state = await run(api, "reduce-price", {"price": 200, "rebate": 0.25})
    assert values(state)["reduced"] == 150


async def test_a_sub_flow_maps_its_input_in_and_its_outputs_out(served) -> None:
    api, service = served
    await register(api, service, ex.CHILD_GOAL, ex.SUB_FLOW)
    state = await run(api, "check-access", {"account": "a-1"})
    assert values(state)["label"] == "member a-1"
    assert values(state)["staff"] is True
    flows = (await api.client.get("/engine/flow")).json()["flows"]
    children = [f for f in flows if f["id"] != state["id"]]
    assert len(children) == 1
    child = (await api.client.get(f"/engine/flow/{children[0]['id']}")).json()
    assert child["parent"]["flow_id"] == state["id"]
    assert child["parent"]["step_id"] == "check-access"
    assert values(child)["account_id"] == "a-1"


async def test_an_order_step_runs_without_its_optional_notes(served) -> None:
    api, service = served
    await register(api, service, ex.ORDER_ATTRIBUTES)
    state = await run(api, "place-order", {"buyer_id": "b", "basket": [1, 2]})
    assert values(state)["grand_total"] == 2


async def test_a_predicate_skips_small_totals_and_runs_large_ones(served) -> None:
    api, service = served
    await register(api, service, ex.PREDICATE)
    small = await run(api, "maybe-alert", {"total": 50})
    assert small["executions"]["maybe-alert"]["status"] == "skipped"
    large = await run(api, "maybe-alert", {"total": 150})
    assert values(large)["alerted"] is True
    assert service.paths() == ["/alert"]


async def test_for_each_makes_one_call_per_element(served) -> None:
    api, service = served
    await register(api, service, ex.FOR_EACH)
    state = await run(api, "price-lines", {"lines": [{"qty": 1}, {"qty": 2}]})
    totals = sorted(item["line_total"] for item in values(state)["line_total"])
    assert totals == [2, 4]


async def test_a_renamed_input_reaches_the_service_under_its_inner_name(served) -> None:
    api, service = served
    await register(api, service, ex.RENAMED_INPUT)
    state = await run(api, "send-receipt", {"buyer_email": "a@example.org"})
    assert service.body_at("/receipts") == {"email": "a@example.org"}
    assert values(state)["sent"] == "a@example.org"


async def test_a_jpath_mapping_extracts_a_nested_value(served) -> None:
    api, service = served
    await register(api, service, ex.JPATH_INPUT)
    state = await run(api, "bill-order", {"order_sum": {"payload": {"order": {"sum": 42}}}})
    assert service.body_at("/bill") == {"order_sum": 42}
    assert values(state)["billed"] == 42


async def test_renaming_and_jpath_together(served) -> None:
    api, service = served
    await register(api, service, ex.RENAMED_AND_JPATH)
    state = await run(api, "tag-buyer", {"buyer_key": {"account": {"key": "k9"}}})
    assert service.body_at("/tag") == {"buyerKey": "k9"}
    assert values(state)["tagged"] == "k9"


async def test_parallel_for_each_calls_once_per_parcel(served) -> None:
    api, service = served
    await register(api, service, ex.PARALLEL_FOR_EACH)
    state = await run(api, "ship-parcels", {"parcels": [1, 2, 3]})
    assert service.paths().count("/parcels/ship") == 3
    assert len(values(state)["shipped_parcel"]) == 3


async def test_a_failed_reservation_refunds_the_deposit(served) -> None:
    api, service = served
    await register(api, service, ex.CHARGE_WITH_REFUND, ex.RESERVE_WITH_RETRIES)
    init = {"deposit": 30, "seat_class": "economy", "seats": 2}
    state = await run(api, "hold-seats", init, status="failed")
    refund = "/deposits/d-7/refund"
    assert service.body_at(refund) == {"input": {"deposit": 30}, "output": {"deposit_id": "d-7"}}
    (item,) = state["executions"]["take-deposit"]["work_items"].values()
    assert item["status"] == "compensated"


async def test_a_memoizable_lookup_is_called_once_for_the_same_input(served) -> None:
    api, service = served
    await register(api, service, ex.MEMOIZED)
    first = await run(api, "rate-lookup", {"currency": "EUR"})
    second = await run(api, "rate-lookup", {"currency": "EUR"})
    assert values(first)["rate"] == values(second)["rate"] == 1.1
    assert service.paths() == ["/rates"]


async def test_const_and_meta_inputs_reach_the_service(served) -> None:
    api, service = served
    await register(api, service, ex.CONST_AND_META)
    state = await run(api, "stamp-order", {"order_ref": "o-9"})
    assert values(state)["stamped"] == ["web", state["id"]]
    overridden = await run(api, "stamp-order", {"order_ref": "o-9", "channel": "app"})
    assert values(overridden)["stamped"] == ["app", overridden["id"]]


async def test_an_optional_input_with_no_wait_takes_its_default(served) -> None:
    api, service = served
    await register(api, service, ex.OPTIONAL_WITH_DEADLINE)
    state = await run(api, "pick-offer", {"item": "x"})
    assert values(state)["offer"] == "x:none"
