"""The served dashboard behind tokens: who opened the page, and what their page may do.

``TokenAuth`` is the Bokeh server's auth provider. A browser gives its token
once, as ``/?token=…``; the answer sets it as an HttpOnly, SameSite=Strict
cookie, which every later request (the page's own WebSocket included) sends.
A request with neither gets the login page: a 401 saying how to open the
dashboard. The token is never put in the page's session (Bokeh embeds the
request's cookies and headers there, which scripts could read): the provider
leaves the entry it found on the request, and ``caller`` reads it from there.

``ActingEngine`` is the engine as one token uses it from the page: every change
carries the token's name as ``actor``, and what its scopes do not allow is
refused, whatever the page shows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from bokeh.server.auth_provider import AuthProvider
from tornado.web import RequestHandler

from argyll.access import OPEN, Scope, Token
from argyll.errors import ForbiddenError
from argyll.events import Event
from argyll.model import Catalog, FlowID, FlowSummary, Step
from argyll.runtime.engine import Engine
from argyll.server.tokens import TokenFile
from argyll.wire import TOKEN_COOKIE, TOKEN_QUERY

LOGIN_PATH = "/token-required"
EXCLUDED_HEADERS = ("Cookie", "Authorization")
"""What the page's session must not carry (see the module's docstring)."""

LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Argyll: a token is required</title></head>
<body>
<h1>A token is required</h1>
<p>This dashboard serves only people with a token. Open it once as
<code>/?token=YOUR_TOKEN</code>; the browser then keeps the token in a cookie.
An operator mints tokens with <code>argyll token new NAME --scopes read</code>.</p>
</body>
</html>
"""


class TokenRequired(RequestHandler):
    """Where a request without a valid token is sent: a 401 that says how to get in."""

    def get(self) -> None:
        self.set_status(401)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(LOGIN_PAGE)


class TokenAuth(AuthProvider):
    """Bokeh's hooks for a dashboard behind the tokens of ``tokens``."""

    def __init__(self, tokens: TokenFile) -> None:
        self.tokens = tokens
        super().__init__()

    @property
    def get_user(self) -> Callable[[RequestHandler], str | None]:
        return self._user

    @property
    def login_url(self) -> str:
        return LOGIN_PATH

    @property
    def login_handler(self) -> type[RequestHandler]:
        return TokenRequired

    def _user(self, handler: RequestHandler) -> str | None:
        given = handler.get_query_argument(TOKEN_QUERY, None)
        secret = given or handler.get_cookie(TOKEN_COOKIE)
        token = self.tokens.current().find(secret) if secret else None
        if token is None:
            return None
        if given:
            handler.set_cookie(
                TOKEN_COOKIE,
                given,
                httponly=True,
                samesite="Strict",
                secure=handler.request.protocol == "https",
            )
        handler.request.argyll_token = token  # type: ignore[attr-defined]
        return token.name


def caller(request: Any) -> Token:
    """Who opened the page of ``request`` (a session's request); ``OPEN`` without tokens."""
    found = getattr(request, "argyll_token", None)
    return found if isinstance(found, Token) else OPEN


class ActingEngine:
    """``engine`` as ``token`` uses it: changes carry its name and need its scopes."""

    def __init__(self, engine: Engine, token: Token) -> None:
        self.engine, self.token = engine, token

    @property
    def catalog(self) -> Catalog:
        return self.engine.catalog

    def events(self, after: str | None = None) -> AsyncIterator[Event]:
        return self.engine.events(after)

    async def list_flows(self, status: Any = None, limit: int | None = None) -> list[FlowSummary]:
        return await self.engine.list_flows(status, limit)

    async def flow_events(self, flow_id: str) -> list[dict[str, Any]]:
        return await self.engine.flow_events(flow_id)

    def _may(self, scope: Scope) -> str:
        if not self.token.allows(scope):
            raise ForbiddenError(scope.value)
        return self.token.name

    async def start_flow(
        self, goals: Iterable[str], init: Mapping[str, Any] | None = None
    ) -> FlowID:
        return await self.engine.start_flow(goals, init, actor=self._may(Scope.RUN))

    async def register_step(self, definition: Mapping[str, Any]) -> Step:
        actor = self._may(Scope.ADMIN)
        return (await self.engine.submit_step(definition, actor=actor)).step

    async def update_step(self, step_id: str, definition: Mapping[str, Any]) -> Step:
        return await self.engine.update_step(step_id, definition, actor=self._may(Scope.ADMIN))

    async def unregister_step(self, step_id: str) -> None:
        await self.engine.unregister_step(step_id, actor=self._may(Scope.ADMIN))

    async def pause_flow(self, flow_id: str, reason: str | None = None) -> object:
        return await self.engine.pause_flow(flow_id, reason, actor=self._may(Scope.RUN))

    async def resume_flow(self, flow_id: str, reason: str | None = None) -> object:
        return await self.engine.resume_flow(flow_id, reason, actor=self._may(Scope.RUN))

    async def cancel_flow(self, flow_id: str, reason: str | None = None) -> object:
        return await self.engine.cancel_flow(flow_id, reason, actor=self._may(Scope.RUN))

    async def retry_flow(self, flow_id: str, *, reason: str | None = None) -> object:
        return await self.engine.retry_flow(flow_id, reason=reason, actor=self._may(Scope.RUN))

    async def complete_step(
        self, flow_id: str, step_id: str, outputs: Mapping[str, Any], reason: str | None = None
    ) -> object:
        actor = self._may(Scope.RUN)
        return await self.engine.complete_step(flow_id, step_id, outputs, reason, actor=actor)

    async def skip_step(self, flow_id: str, step_id: str, reason: str | None = None) -> object:
        return await self.engine.skip_step(flow_id, step_id, reason, actor=self._may(Scope.RUN))
