"""The demo catalog, its HTTP steps served by the SDK's ``StepServer`` next to the engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from argyll import Engine
from argyll.client import AsyncClient
from argyll.demo import PREFIX, DemoService, demo_steps, install_demo
from argyll.model import FlowStatus, HealthStatus, StepStatus
from argyll.server.app import Server, base_url, bind, serve
from argyll.testing import wait_until


@dataclass
class Demo:
    engine: Engine
    server: Server
    client: AsyncClient
    service: DemoService


@pytest.fixture
async def demo() -> AsyncIterator[Demo]:
    sockets = bind("127.0.0.1", 0)
    url = base_url(sockets[0])
    service = DemoService(payment_delay=0.01)
    async with Engine("memory://", webhook_base_url=url) as engine:
        server = await serve(engine, sockets=sockets, extra_routes=service.routes())
        try:
            await install_demo(engine, url)
            async with AsyncClient(url) as client:
                yield Demo(engine, server, client, service)
        finally:
            await service.aclose()
            await server.aclose()


def test_the_catalog_keeps_its_steps_in_order() -> None:
    steps = demo_steps("http://demo:1/")
    assert [step["id"] for step in steps] == [
        "user-resolver",
        "inventory-resolver",
        "price-calculator",
        "eligibility-checker",
        "order-creator",
        "stock-reservation",
        "payment-processor",
        "text-formatter",
        "notification-sender",
    ]
    served = [step for step in steps if "http" in step]
    assert {step["http"]["health_check"] for step in served} == {f"http://demo:1{PREFIX}/health"}
    assert [step["id"] for step in steps if step["type"] == "async"] == ["payment-processor"]


async def test_the_served_steps_are_healthy_once_installed(demo: Demo) -> None:
    health = await demo.client.steps_health()
    assert set(health) == {step["id"] for step in demo_steps("http://x")}
    assert {h.status for h in health.values()} == {HealthStatus.HEALTHY}


async def test_a_small_order_completes_through_the_async_payment(demo: Demo) -> None:
    flow_id = await demo.client.start_flow(["notification-sender"], {"quantity": 2})
    state = await demo.client.wait_flow(flow_id, timeout=10)
    assert state.status is FlowStatus.COMPLETED
    payment = state.attributes["payment"].value
    assert payment == {
        "order": f"ord-{flow_id[:8]}",
        "amount": 19.0,
        "method": "card",
        "status": "captured",
    }
    assert state.attributes["notification"].value["text"].startswith("Hi Alice Martin")


async def test_a_large_order_fails_at_the_stock_reservation(demo: Demo) -> None:
    flow_id = await demo.client.start_flow(["notification-sender"], {"quantity": 500})
    state = await demo.client.wait_flow(flow_id, timeout=10)
    assert state.status is FlowStatus.FAILED
    reservation = state.executions["stock-reservation"]
    assert reservation.status is StepStatus.FAILED
    assert "only 120 Widget in stock, 500 wanted" in (reservation.error or "")


async def test_the_payment_of_an_order_that_fails_is_refunded(demo: Demo) -> None:
    flow_id = await demo.client.start_flow(["notification-sender"], {"quantity": 500})

    async def deactivated() -> dict | None:
        state = await demo.engine.get_flow(flow_id)
        return state.to_dict() if state.deactivated_at is not None else None

    state = await wait_until(deactivated, "the failed order settled")
    (item,) = state["executions"]["payment-processor"]["work_items"].values()
    assert item["status"] == "compensated"
    assert state["compensation"]["status"] == "compensated"
    assert demo.service.refunds == [
        {"order": f"ord-{flow_id[:8]}", "amount": 4750.0, "token": item_token(state)}
    ]


def item_token(state: dict) -> str:
    (token,) = state["executions"]["payment-processor"]["work_items"]
    return token


async def test_an_unknown_user_fails_the_resolver_for_good(demo: Demo) -> None:
    flow_id = await demo.client.start_flow(["user-resolver"], {"user_id": "carol"})
    state = await demo.client.wait_flow(flow_id, timeout=10)
    resolver = state.executions["user-resolver"]
    assert resolver.status is StepStatus.FAILED and "no user 'carol'" in (resolver.error or "")
