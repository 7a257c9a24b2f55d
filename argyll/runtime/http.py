"""Calling HTTP steps (docs/steps.md) and probing their health, over one pooled httpx client.

Every call obeys the outbound policy twice: the URL's host before the request,
and each address DNS gives for it inside the connector (``PolicyResolver``), so
the address connected to is one that was checked, however the name resolves
later. Redirects are never followed: a 3xx reply fails the attempt.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from httpx_aiohttp import AiohttpTransport

from argyll.compensate import RunCompensation
from argyll.decide import Failed, NotCompleted, Outcome, RunWork, Succeeded
from argyll.mapping import with_webhook_url
from argyll.model import HealthStatus, HttpMethod, Step, StepType
from argyll.outbound import ALLOW_ALL, OutboundPolicy
from argyll.problems import problem_text
from argyll.wire import (
    FLOW_ID_HEADER,
    RECEIPT_TOKEN_HEADER,
    STEP_ID_HEADER,
    WEBHOOK_PATH,
    WEBHOOK_URL_HEADER,
    fill_path,
)

HEALTH_TIMEOUT_S = 2.0
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]+)\}")
_ERROR_TEXT_LIMIT = 500


def fill_endpoint(endpoint: str, inputs: Mapping[str, Any]) -> str:
    """The endpoint with each ``{name}`` replaced by that input, URL-quoted; KeyError if absent."""

    def value(match: re.Match[str]) -> str:
        item = inputs[match.group(1)]
        text = item if isinstance(item, str) else json.dumps(item)
        return quote(text, safe="")

    return _PLACEHOLDER.sub(value, endpoint)


def webhook_url(base: str, flow_id: str, step_id: str, token: str) -> str:
    return base.rstrip("/") + fill_path(WEBHOOK_PATH, flow_id=flow_id, step_id=step_id, token=token)


class OutboundRefused(OSError):
    """A connection the outbound policy does not allow (raised before connecting)."""


class PolicyResolver(AbstractResolver):
    """DNS answers with every address outside the policy's networks left out."""

    def __init__(self, policy: OutboundPolicy, resolver: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._resolver = resolver or aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._resolver.resolve(host, port, family)
        allowed = [answer for answer in answers if self._policy.address_allowed(answer["host"])]
        if not allowed:
            addresses = ", ".join(sorted({answer["host"] for answer in answers}))
            raise OutboundRefused(
                f"{host} resolves to {addresses}, outside the outbound policy (--allow-hosts)"
            )
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


def make_client(policy: OutboundPolicy, limits: httpx.Limits) -> httpx.AsyncClient:
    """An httpx client over aiohttp whose connections all pass the policy's resolver.

    httpx's ``follow_redirects`` stays False and the transport never follows them either.
    """
    transport = AiohttpTransport(limits=limits)

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry,
            ssl=transport.ssl_context,
            resolver=PolicyResolver(policy),
        )
        return aiohttp.ClientSession(connector=connector)

    transport.client = session
    return httpx.AsyncClient(transport=transport, follow_redirects=False)


def refusal(exc: BaseException) -> str | None:
    """The outbound policy's reason, when that is what stopped a request."""
    return next((str(cause) for cause in _causes(exc) if isinstance(cause, OutboundRefused)), None)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it was raised from, outermost first (bounded against cycles)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _host_port(url: str) -> str:
    parsed = httpx.URL(url)
    port = parsed.port or {"https": 443}.get(parsed.scheme, 80)
    return f"{parsed.host}:{port}"


def transport_error(exc: httpx.HTTPError, url: str, timeout_ms: int) -> str:
    """What really went wrong with a request that got no reply, read from its causes.

    The exception's own class cannot be trusted: the aiohttp transport turns a refused
    connection into ``httpx.ConnectTimeout``. The OS-level cause underneath can.
    """
    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {_host_port(url)}"
        if isinstance(cause, ConnectionResetError):
            return f"connection reset by {_host_port(url)}"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {httpx.URL(url).host}: {cause.strerror}"
    if any(isinstance(cause, TimeoutError) for cause in causes):
        return f"timed out after {timeout_ms} ms"
    detail = next((str(cause) for cause in reversed(causes) if str(cause)), type(exc).__name__)
    return f"request to {_host_port(url)} failed: {detail}"


def problem_detail(response: httpx.Response) -> str:
    """The most useful text of an error reply: a problem's detail or title, else the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        text = problem_text(body) or body.get("error")
        if isinstance(text, str) and text:
            return text
    return response.text[:_ERROR_TEXT_LIMIT] or response.reason_phrase


def classify(response: httpx.Response, step: Step) -> Outcome | None:
    """5xx retry, 4xx fail for good, 2xx JSON object = outputs (sync) or ack (async)."""
    status = response.status_code
    if status >= 500:
        return NotCompleted(f"HTTP {status}: {problem_detail(response)}")
    if status >= 300:
        return Failed(f"HTTP {status}: {problem_detail(response)}")
    if step.type is StepType.ASYNC:
        return None
    try:
        body = response.json()
    except ValueError:
        return Failed(f"HTTP {status}: the reply is not JSON")
    if not isinstance(body, dict):
        return Failed(f"HTTP {status}: the reply is {type(body).__name__}, not a JSON object")
    return Succeeded(body)


class HttpCaller:
    """Makes one attempt of an HTTP work item."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        webhook_base_url: str,
        outbound: OutboundPolicy = ALLOW_ALL,
    ) -> None:
        self._client, self._webhook_base, self._outbound = client, webhook_base_url, outbound

    async def call(self, effect: RunWork) -> Outcome | None:
        step = effect.step
        assert step.http is not None  # noqa: S101 — narrows the type: only HTTP steps come here
        headers = {
            FLOW_ID_HEADER: effect.flow_id,
            STEP_ID_HEADER: step.id,
            RECEIPT_TOKEN_HEADER: effect.token,
        }
        inputs = effect.inputs
        if step.type is StepType.ASYNC:
            hook = webhook_url(self._webhook_base, effect.flow_id, step.id, effect.token)
            headers[WEBHOOK_URL_HEADER] = hook
            inputs = with_webhook_url(step, inputs, hook)
        try:
            url = fill_endpoint(step.http.endpoint, inputs)
        except KeyError as exc:
            return Failed(f"endpoint placeholder {exc.args[0]!r} has no input")
        refused = self._outbound.url_problem(url)
        if refused is not None:
            return Failed(refused)
        body = None if step.http.method is HttpMethod.GET else dict(inputs)
        try:
            response = await self._client.request(
                step.http.method.value,
                url,
                json=body,
                headers=headers,
                timeout=step.http.timeout / 1000,
            )
        except httpx.HTTPError as exc:
            refused = refusal(exc)
            if refused is not None:
                return Failed(refused)
            return NotCompleted(transport_error(exc, url, step.http.timeout))
        return classify(response, step)

    async def compensate(self, effect: RunCompensation) -> Outcome:
        """One compensation call: POST ``{input, output}`` to the step's compensate URL.

        Placeholders are filled from the item's outputs, then its inputs; any 2xx is done,
        5xx and transport errors are not completed (retried), anything else fails for good.
        """
        step = effect.step
        assert step.http is not None and step.http.compensate  # noqa: S101 — narrows the type: only compensable steps come here
        try:
            url = fill_endpoint(step.http.compensate, {**effect.inputs, **effect.outputs})
        except KeyError as exc:
            return Failed(f"compensate placeholder {exc.args[0]!r} has no output or input")
        refused = self._outbound.url_problem(url)
        if refused is not None:
            return Failed(refused)
        headers = {
            FLOW_ID_HEADER: effect.flow_id,
            STEP_ID_HEADER: step.id,
            RECEIPT_TOKEN_HEADER: effect.token,
        }
        body = {"input": dict(effect.inputs), "output": dict(effect.outputs)}
        try:
            response = await self._client.post(
                url, json=body, headers=headers, timeout=step.http.timeout / 1000
            )
        except httpx.HTTPError as exc:
            refused = refusal(exc)
            if refused is not None:
                return Failed(refused)
            return NotCompleted(transport_error(exc, url, step.http.timeout))
        if response.status_code >= 500:
            return NotCompleted(f"HTTP {response.status_code}: {problem_detail(response)}")
        if not response.is_success:
            return Failed(f"HTTP {response.status_code}: {problem_detail(response)}")
        return Succeeded({})

    async def probe(self, url: str) -> tuple[HealthStatus, str | None]:
        """One health check: healthy on a 2xx within the short timeout."""
        refused = self._outbound.url_problem(url)
        if refused is not None:
            return HealthStatus.UNHEALTHY, refused
        try:
            response = await self._client.get(url, timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError as exc:
            reason = refusal(exc) or transport_error(exc, url, int(HEALTH_TIMEOUT_S * 1000))
            return HealthStatus.UNHEALTHY, reason
        if response.is_success:
            return HealthStatus.HEALTHY, None
        return HealthStatus.UNHEALTHY, f"HTTP {response.status_code}: {problem_detail(response)}"
