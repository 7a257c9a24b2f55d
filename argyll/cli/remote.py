"""How the CLI talks to a running engine: the client's ``protocol`` calls, replies kept as sent.

The requests are the Python client's (``argyll.client.protocol``), so paths,
bodies and error typing are defined once; but where ``Client`` turns a reply into
model objects, ``Remote`` keeps its JSON text, because ``-o json`` prints exactly
what the API answered. Every failure becomes a ``CommandError`` whose exit code
says what went wrong (see ``ExitCode``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import IO, Any, Self

import click
import httpx
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from argyll.client import protocol
from argyll.client.client import DEFAULT_TIMEOUT
from argyll.client.protocol import Call
from argyll.errors import ArgyllError
from argyll.model import flow_state_from_dict
from argyll.wire import CLOSE_TRY_AGAIN_LATER


class ExitCode(IntEnum):
    """What a script can learn from ``argyll``'s exit status."""

    OK = 0
    REFUSED = 1
    """The engine answered with an error (its problem's ``detail`` is printed)."""
    USAGE = 2
    """Bad flags or arguments, an unreadable file, ``--init`` that is not a JSON object."""
    UNREACHABLE = 3
    """No answer: connection refused, unknown host, timed out, or the stream broke off."""
    BAD_OUTCOME = 4
    """What was asked about is not well: the flow ``--wait`` waited for failed, or the
    engine's ``/health`` status is not ``ok``."""
    INTERRUPTED = 130
    """Ctrl-C."""


class CommandError(click.ClickException):
    """A failure printed as one ``argyll: …`` line on stderr, exiting with its code."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"argyll: {self.format_message()}", err=True, file=file)


class Refused(CommandError):
    """The engine's error reply: its status and its problem's ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{detail} (HTTP {status})", ExitCode.REFUSED)
        self.status = status


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful reply: its body as sent, and that body decoded."""

    body: bytes
    data: Any


class Remote:
    """One engine over REST and its WebSocket; ``Authorization: Bearer`` when given a token."""

    def __init__(
        self, url: str, token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def send(self, call: Call[Any]) -> Answer:
        """Send one of the client's calls; an error reply raises ``Refused``."""
        try:
            response = self._http.request(
                call.method,
                call.path,
                params=call.params,
                content=call.content,
                headers=call.headers,
                timeout=self.timeout + call.hold,
            )
        except httpx.TransportError as error:
            raise unreachable(self.url, error) from None
        if response.is_error:
            raise refused(response.status_code, response.content, call.path)
        body = response.content
        try:
            data = json.loads(body) if body.strip() else None
        except ValueError:
            message = f"{self.url}{call.path} answered {response.status_code} with no JSON"
            raise CommandError(f"{message}: is it an argyll engine?", ExitCode.REFUSED) from None
        return Answer(body, data)

    def wait_flow(self, flow_id: str, timeout: float) -> Answer:
        """The flow's state once it has ended, by long polls (``protocol.FlowWait``); a flow
        still running after ``timeout`` seconds is ``BAD_OUTCOME``."""
        waiting = protocol.FlowWait(flow_id, timeout)
        while True:
            answer = self.send(waiting.call())
            try:
                if waiting.ended(flow_state_from_dict(answer.data)) is not None:
                    return answer
            except TimeoutError as error:
                raise CommandError(str(error), ExitCode.BAD_OUTCOME) from None

    async def follow(self, flow_id: str) -> AsyncIterator[tuple[str, Mapping[str, Any]]]:
        """The flow's events as sent (text) and decoded, past ones first, until the flow ends.

        A stream the server closes for falling behind is reopened and goes on after
        the last ``seq`` seen; any other close before the flow ended is ``UNREACHABLE``.
        """
        last_seq = 0
        while True:
            connection = await self._open(protocol.stream_url(self.url, flow_id))
            try:
                while (message := await connection.read_message()) is not None:
                    text = message.decode() if isinstance(message, bytes) else message
                    event = json.loads(text)
                    if event["seq"] <= last_seq:
                        continue
                    last_seq = event["seq"]
                    yield text, event
                    if event["type"] in protocol.FLOW_ENDED:
                        return
            finally:
                connection.close()
            if connection.close_code != CLOSE_TRY_AGAIN_LATER:
                why = connection.close_reason or f"close code {connection.close_code}"
                message = f"the event stream of flow {flow_id!r} closed before it ended: {why}"
                raise CommandError(message, ExitCode.UNREACHABLE)

    async def _open(self, url: str) -> WebSocketClientConnection:
        request = HTTPRequest(url, headers=self.headers, connect_timeout=self.timeout)
        try:
            return await websocket_connect(request)
        except HTTPClientError as error:
            body = error.response.body if error.response is not None else b""
            raise refused(error.code, body, url) from None
        except OSError as error:
            raise unreachable(self.url, error) from None


def refused(status: int, body: bytes, where: str) -> Refused:
    """The ``Refused`` an error reply stands for, with its problem's ``detail``."""
    error: ArgyllError = protocol.problem_error(status, body, where)
    return Refused(status, str(error))


def unreachable(url: str, error: Exception) -> CommandError:
    return CommandError(f"cannot reach the engine at {url}: {error}", ExitCode.UNREACHABLE)
