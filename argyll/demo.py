"""A living demo: an order-to-notification catalog and the HTTP services behind its steps.

``demo_steps(base_url)`` is the catalog (two resolvers, HTTP processors, an
async payment step, Ale and Lua scripts, a collector). Its HTTP steps are plain
Python functions served by ``argyll.sdk.StepServer``, as a user would write
them; ``DemoService.routes()`` mounts them under ``/demo`` in the same process
as the engine. The payment step acknowledges at once and completes later
through its ``ctx`` (the webhook URL the engine sent), and is refunded (its
``http.compensate``, ``/demo/refund``) when the flow fails or is canceled. ``install_demo``
registers the catalog and probes its health so the dashboard starts green.

Try ``{"quantity": 2}`` with goal ``notification-sender`` (completes) and
``{"quantity": 500}`` (fails at ``stock-reservation``: not enough stock, and the
payment, captured meanwhile, is refunded);
``DEMO_PRESETS`` are these orders, as the dashboard offers them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from tornado.web import RequestHandler

from argyll.errors import ArgyllError
from argyll.runtime.engine import Engine
from argyll.sdk import StepContext, StepError, StepServer, register_all
from argyll.wire import JSON_CONTENT_TYPE, RECEIPT_TOKEN_HEADER

log = logging.getLogger("argyll.demo")

PREFIX = "/demo"
REFUND_PATH = "/refund"
"""Where the payment is undone (the payment step's ``http.compensate``, under PREFIX)."""
PAYMENT_DELAY = 0.3
TIMEOUT_MS = 5000
RETRIES = {"max_retries": 2, "init_backoff": 200, "max_backoff": 1000, "backoff_type": "linear"}

USERS: Mapping[str, Mapping[str, Any]] = {
    "alice": {"id": "alice", "name": "Alice Martin", "active": True, "credit_limit": 5000},
    "bob": {"id": "bob", "name": "Bob Keller", "active": False, "credit_limit": 50},
}
PRODUCTS: Mapping[str, Mapping[str, Any]] = {
    "widget": {"id": "widget", "name": "Widget", "price": 9.5, "stock": 120},
    "gadget": {"id": "gadget", "name": "Gadget", "price": 49.0, "stock": 4},
}

PRICE_SCRIPT = """(let ([subtotal (* quantity (get product_info :price))]
      [discount (if (= coupon "SAVE10") 0.1 0)])
  {:total (* subtotal (- 1 discount))})"""
ELIGIBILITY_SCRIPT = "return { eligible = user_info.active and total <= user_info.credit_limit }"
MESSAGE_SCRIPT = (
    'return { message = string.format("Hi %s, order %s (%s x %s) is on its way.",'
    " order.customer, order.id, tostring(order.quantity), order.product) }"
)

CATALOG_ORDER = (
    "user-resolver",
    "inventory-resolver",
    "price-calculator",
    "eligibility-checker",
    "order-creator",
    "stock-reservation",
    "payment-processor",
    "text-formatter",
    "notification-sender",
)
"""Every demo step, in the order they are registered."""


@dataclass(frozen=True, slots=True)
class Preset:
    """An order to try from the dashboard in one click: its goals, its init, what it shows."""

    title: str
    goals: tuple[str, ...]
    init: Mapping[str, Any]
    explanation: str


DEMO_PRESETS = (
    Preset(
        "A good order",
        ("notification-sender",),
        {"quantity": 2},
        "Alice orders 2 Widgets. Every step runs; the payment is acknowledged at once and "
        "completed a moment later through its webhook; the notification goes out.",
    ),
    Preset(
        "An order that fails",
        ("notification-sender",),
        {"quantity": 500},
        "Alice orders 500 Widgets, but only 120 are in stock. Stock Reservation answers "
        "HTTP 409 (a 4xx is final: no retry), so Notification Sender never gets its "
        "reservation input and the flow fails. The flows table names the root cause: "
        "stock-reservation and its error. The payment, captured a moment later, is "
        "refunded: Payment Processor has a compensate endpoint, and its work item goes "
        "compensating, then compensated.",
    ),
)
"""The demo's orders to try: one that completes, one that fails and why."""


def _attr(role: str, kind: str, default: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"role": role, "type": kind}
    if default is not None:
        spec["default"] = default
    return spec


SCRIPT_STEPS: Mapping[str, Mapping[str, Any]] = {
    "price-calculator": {
        "id": "price-calculator",
        "name": "Price Calculator",
        "type": "script",
        "attributes": {
            "product_info": _attr("required", "object"),
            "quantity": _attr("required", "number"),
            "coupon": _attr("optional", "string", '"NONE"'),
            "total": _attr("output", "number"),
        },
        "script": {"language": "ale", "script": PRICE_SCRIPT},
        "predicate": {"language": "ale", "script": "(> quantity 0)"},
    },
    "eligibility-checker": {
        "id": "eligibility-checker",
        "name": "Eligibility Checker",
        "type": "script",
        "attributes": {
            "user_info": _attr("required", "object"),
            "total": _attr("required", "number"),
            "eligible": _attr("output", "boolean"),
        },
        "script": {"language": "lua", "script": ELIGIBILITY_SCRIPT},
    },
    "text-formatter": {
        "id": "text-formatter",
        "name": "Text Formatter",
        "type": "script",
        "attributes": {
            "order": _attr("required", "object"),
            "message": _attr("output", "string"),
        },
        "script": {"language": "lua", "script": MESSAGE_SCRIPT},
    },
}
"""The steps the engine runs itself (no service behind them)."""


def demo_steps(base_url: str) -> list[dict[str, Any]]:
    """The demo catalog as docs/steps.md definitions, its HTTP steps served under ``base_url``."""
    return DemoService().definitions(base_url)


async def install_demo(engine: Engine, base_url: str) -> None:
    """Register (or update to) the demo catalog and probe its services' health once."""
    await register_all(engine, demo_steps(base_url))
    await engine.check_health()


# ------------------------------------------------------------------ services


async def resolve_user(user_id: str = "alice") -> dict[str, Any]:
    user = USERS.get(user_id)
    if user is None:
        raise StepError(404, f"no user {user_id!r}")
    return {"user_info": user}


async def resolve_product(product_id: str = "widget") -> dict[str, Any]:
    product = PRODUCTS.get(product_id)
    if product is None:
        raise StepError(404, f"no product {product_id!r}")
    return {"product_info": product}


async def create_order(
    user_info: dict[str, Any],
    product_info: dict[str, Any],
    quantity: float,
    total: float,
    eligible: bool,
    ctx: StepContext,
) -> dict[str, Any]:
    if not eligible:
        name = user_info.get("name", "the user")
        raise StepError(422, f"{name} may not place an order of {total}")
    order = {
        "id": f"ord-{(ctx.flow_id or 'local')[:8]}",
        "customer": user_info.get("name"),
        "product": product_info.get("id"),
        "quantity": quantity,
        "total": total,
    }
    return {"order": order}


async def reserve_stock(order: dict[str, Any]) -> dict[str, Any]:
    product = PRODUCTS.get(order.get("product", ""), {})
    wanted, stock = order.get("quantity", 0), product.get("stock", 0)
    if wanted > stock:
        name = product.get("name", "items")
        raise StepError(409, f"only {stock} {name} in stock, {wanted} wanted")
    return {"reservation": {"order": order.get("id"), "reserved": wanted}}


async def send_notification(
    order: dict[str, Any],
    payment: dict[str, Any],
    reservation: dict[str, Any],
    message: str = "",
) -> dict[str, Any]:
    text = message or f"Order {order.get('id')} confirmed."
    return {"notification": {"to": order.get("customer"), "text": text, "sent": True}}


class _RefundHandler(RequestHandler):
    """The payment's compensation: the engine posts ``{input, output}`` of a captured payment."""

    def initialize(self, refunds: list[dict[str, Any]]) -> None:
        self.refunds = refunds

    def post(self) -> None:
        body = json.loads(self.request.body or b"{}")
        payment = body.get("output", {}).get("payment", {})
        token = self.request.headers.get(RECEIPT_TOKEN_HEADER, "")
        if all(refund["token"] != token for refund in self.refunds):  # a repeat refunds once
            self.refunds.append(
                {"order": payment.get("order"), "amount": payment.get("amount"), "token": token}
            )
        self.set_header("Content-Type", JSON_CONTENT_TYPE)
        self.finish(json.dumps({"refunded": payment.get("amount")}))


class DemoService:
    """The demo's HTTP steps; ``routes()`` mounts them, ``aclose()`` ends pending payments.

    ``refunds`` lists each payment refunded (order, amount, receipt token), once per token.
    """

    def __init__(self, payment_delay: float = PAYMENT_DELAY) -> None:
        self.payment_delay = payment_delay
        self.refunds: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.steps = StepServer()
        sync = self.steps.step
        sync(
            step_id="user-resolver",
            name="User Resolver",
            labels={"team": "accounts"},
            outputs={"user_info": dict},
            timeout_ms=TIMEOUT_MS,
        )(resolve_user)
        sync(
            step_id="inventory-resolver",
            name="Inventory Resolver",
            labels={"team": "warehouse"},
            outputs={"product_info": dict},
            timeout_ms=TIMEOUT_MS,
        )(resolve_product)
        sync(
            step_id="order-creator",
            name="Order Creator",
            outputs={"order": dict},
            work_config=RETRIES,
            timeout_ms=TIMEOUT_MS,
        )(create_order)
        sync(
            step_id="stock-reservation",
            name="Stock Reservation",
            outputs={"reservation": dict},
            work_config=RETRIES,
            timeout_ms=TIMEOUT_MS,
        )(reserve_stock)
        self.steps.async_step(
            step_id="payment-processor",
            name="Payment Processor",
            outputs={"payment": dict},
            work_config=RETRIES,
            timeout_ms=TIMEOUT_MS,
        )(self.take_payment)
        sync(
            step_id="notification-sender",
            name="Notification Sender",
            labels={"team": "comms"},
            outputs={"notification": dict},
            timeout_ms=TIMEOUT_MS,
        )(send_notification)

    def routes(self) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
        refund = (PREFIX + REFUND_PATH, _RefundHandler, {"refunds": self.refunds})
        return [*self.steps.routes(PREFIX), refund]

    def definitions(self, base_url: str) -> list[dict[str, Any]]:
        """Every demo step's definition, the HTTP ones served under ``base_url`` + ``/demo``."""
        root = base_url.rstrip("/") + PREFIX
        served = {step["id"]: step for step in self.steps.definitions(root)}
        payment = served["payment-processor"]
        payment["http"] = {**payment["http"], "compensate": root + REFUND_PATH}
        every = {**served, **SCRIPT_STEPS}
        return [dict(every[step_id]) for step_id in CATALOG_ORDER]

    async def take_payment(
        self, order: dict[str, Any], ctx: StepContext, payment_method: str = "card"
    ) -> None:
        """Acknowledge now; capture the payment ``payment_delay`` seconds later."""
        payment = {
            "order": order.get("id"),
            "amount": order.get("total"),
            "method": payment_method,
            "status": "captured",
        }
        task = asyncio.get_running_loop().create_task(self._capture(ctx, payment))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _capture(self, ctx: StepContext, payment: Mapping[str, Any]) -> None:
        await asyncio.sleep(self.payment_delay)
        try:
            await ctx.succeed(payment=payment)
        except (ArgyllError, httpx.HTTPError) as error:
            log.warning("payment webhook %s failed: %s", ctx.webhook_url, error)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
