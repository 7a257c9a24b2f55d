"""A living demo: an order-to-notification catalog and the HTTP services behind its steps.

``demo_steps(base_url)`` is the catalog (two resolvers, HTTP processors, an
async payment step, Ale and Lua scripts, a collector). ``DemoService`` serves
the HTTP steps as Tornado routes under ``/demo`` in the same process as the
engine; its payment step acknowledges at once and completes later through the
webhook URL the engine sent in ``Argyll-Webhook-URL``. ``install_demo``
registers the catalog and probes its health so the dashboard starts green.

Try ``{"quantity": 2}`` with goal ``notification-sender`` (completes) and
``{"quantity": 500}`` (fails at ``stock-reservation``: not enough stock).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from tornado.web import RequestHandler

from argyll.errors import ConflictError
from argyll.runtime.engine import Engine

log = logging.getLogger("argyll.demo")

PREFIX = "/demo"
PAYMENT_DELAY = 0.3

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


def _attr(role: str, kind: str, default: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"role": role, "type": kind}
    if default is not None:
        spec["default"] = default
    return spec


def _http(base_url: str, path: str, method: str = "POST") -> dict[str, Any]:
    return {
        "endpoint": f"{base_url}{PREFIX}{path}",
        "method": method,
        "health_check": f"{base_url}{PREFIX}/health",
        "timeout": 5000,
    }


def demo_steps(base_url: str) -> list[dict[str, Any]]:
    """The demo catalog as SPEC §1 definitions, its HTTP steps served under ``base_url``."""
    retries = {"max_retries": 2, "init_backoff": 200, "max_backoff": 1000, "backoff_type": "linear"}
    return [
        {
            "id": "user-resolver",
            "name": "User Resolver",
            "type": "sync",
            "labels": {"team": "accounts"},
            "attributes": {
                "user_id": _attr("optional", "string", '"alice"'),
                "user_info": _attr("output", "object"),
            },
            "http": _http(base_url, "/users/{user_id}", "GET"),
        },
        {
            "id": "inventory-resolver",
            "name": "Inventory Resolver",
            "type": "sync",
            "labels": {"team": "warehouse"},
            "attributes": {
                "product_id": _attr("optional", "string", '"widget"'),
                "product_info": _attr("output", "object"),
            },
            "http": _http(base_url, "/products/{product_id}", "GET"),
        },
        {
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
        {
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
        {
            "id": "order-creator",
            "name": "Order Creator",
            "type": "sync",
            "attributes": {
                "user_info": _attr("required", "object"),
                "product_info": _attr("required", "object"),
                "quantity": _attr("required", "number"),
                "total": _attr("required", "number"),
                "eligible": _attr("required", "boolean"),
                "order": _attr("output", "object"),
            },
            "http": _http(base_url, "/orders"),
            "work_config": retries,
        },
        {
            "id": "stock-reservation",
            "name": "Stock Reservation",
            "type": "sync",
            "attributes": {
                "order": _attr("required", "object"),
                "reservation": _attr("output", "object"),
            },
            "http": _http(base_url, "/reservations"),
            "work_config": retries,
        },
        {
            "id": "payment-processor",
            "name": "Payment Processor",
            "type": "async",
            "attributes": {
                "order": _attr("required", "object"),
                "payment_method": _attr("optional", "string", '"card"'),
                "payment": _attr("output", "object"),
            },
            "http": _http(base_url, "/payments"),
            "work_config": retries,
        },
        {
            "id": "text-formatter",
            "name": "Text Formatter",
            "type": "script",
            "attributes": {
                "order": _attr("required", "object"),
                "message": _attr("output", "string"),
            },
            "script": {"language": "lua", "script": MESSAGE_SCRIPT},
        },
        {
            "id": "notification-sender",
            "name": "Notification Sender",
            "type": "sync",
            "labels": {"team": "comms"},
            "attributes": {
                "order": _attr("required", "object"),
                "payment": _attr("required", "object"),
                "reservation": _attr("required", "object"),
                "message": _attr("optional", "string"),
                "notification": _attr("output", "object"),
            },
            "http": _http(base_url, "/notifications"),
        },
    ]


async def install_demo(engine: Engine, base_url: str) -> None:
    """Register (or update to) the demo catalog and probe its services' health once."""
    for definition in demo_steps(base_url.rstrip("/")):
        try:
            await engine.register_step(definition)
        except ConflictError:
            await engine.update_step(definition["id"], definition)
    await engine.check_health()


# ------------------------------------------------------------------ services


class DemoService:
    """The demo's HTTP steps; ``routes()`` mounts them, ``aclose()`` ends pending payments."""

    def __init__(self, payment_delay: float = PAYMENT_DELAY) -> None:
        self.payment_delay = payment_delay
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
        args = {"service": self}
        return [
            (rf"{PREFIX}/health", HealthHandler, args),
            (rf"{PREFIX}/users/([^/]+)", UserHandler, args),
            (rf"{PREFIX}/products/([^/]+)", ProductHandler, args),
            (rf"{PREFIX}/orders", OrderHandler, args),
            (rf"{PREFIX}/reservations", ReservationHandler, args),
            (rf"{PREFIX}/payments", PaymentHandler, args),
            (rf"{PREFIX}/notifications", NotificationHandler, args),
        ]

    def complete_later(self, webhook_url: str, outputs: Mapping[str, Any]) -> None:
        """Post ``outputs`` to the engine's webhook after ``payment_delay`` seconds."""
        task = asyncio.get_running_loop().create_task(self._complete(webhook_url, outputs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _complete(self, webhook_url: str, outputs: Mapping[str, Any]) -> None:
        await asyncio.sleep(self.payment_delay)
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        try:
            reply = await self._client.post(webhook_url, json=dict(outputs))
        except httpx.HTTPError as exc:
            log.warning("payment webhook %s failed: %s", webhook_url, exc)
            return
        if reply.status_code >= 400:
            log.warning("payment webhook %s answered %d", webhook_url, reply.status_code)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()


class DemoHandler(RequestHandler):
    def initialize(self, service: DemoService) -> None:
        self.service = service

    def body(self) -> dict[str, Any]:
        """The JSON object the engine sent (the inputs); {} for anything else."""
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def reply(self, data: Mapping[str, Any], status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def problem(self, status: int, detail: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/problem+json")
        self.finish(json.dumps({"title": self._reason, "status": status, "detail": detail}))


class HealthHandler(DemoHandler):
    def get(self) -> None:
        self.reply({"status": "ok"})


class UserHandler(DemoHandler):
    def get(self, user_id: str) -> None:
        user = USERS.get(user_id)
        if user is None:
            self.problem(404, f"no user {user_id!r}")
        else:
            self.reply({"user_info": user})


class ProductHandler(DemoHandler):
    def get(self, product_id: str) -> None:
        product = PRODUCTS.get(product_id)
        if product is None:
            self.problem(404, f"no product {product_id!r}")
        else:
            self.reply({"product_info": product})


class OrderHandler(DemoHandler):
    def post(self) -> None:
        body = self.body()
        user, product = body.get("user_info") or {}, body.get("product_info") or {}
        if not body.get("eligible"):
            name = user.get("name", "the user")
            self.problem(422, f"{name} may not place an order of {body.get('total')}")
            return
        flow_id = self.request.headers.get("Argyll-Flow-ID", "local")
        order = {
            "id": f"ord-{flow_id[:8]}",
            "customer": user.get("name"),
            "product": product.get("id"),
            "quantity": body.get("quantity"),
            "total": body.get("total"),
        }
        self.reply({"order": order})


class ReservationHandler(DemoHandler):
    def post(self) -> None:
        order = self.body().get("order") or {}
        product = PRODUCTS.get(order.get("product", ""), {})
        wanted, stock = order.get("quantity", 0), product.get("stock", 0)
        if wanted > stock:
            name = product.get("name", "items")
            self.problem(409, f"only {stock} {name} in stock, {wanted} wanted")
        else:
            self.reply({"reservation": {"order": order.get("id"), "reserved": wanted}})


class PaymentHandler(DemoHandler):
    def post(self) -> None:
        body = self.body()
        webhook = self.request.headers.get("Argyll-Webhook-URL")
        if not webhook:
            self.problem(400, "no Argyll-Webhook-URL header: this step is async")
            return
        order = body.get("order") or {}
        payment = {
            "order": order.get("id"),
            "amount": order.get("total"),
            "method": body.get("payment_method", "card"),
            "status": "captured",
        }
        self.service.complete_later(webhook, {"payment": payment})
        self.reply({"accepted": True}, status=202)


class NotificationHandler(DemoHandler):
    def post(self) -> None:
        order = self.body().get("order") or {}
        text = self.body().get("message") or f"Order {order.get('id')} confirmed."
        self.reply({"notification": {"to": order.get("customer"), "text": text, "sent": True}})
