"""The served dashboard behind tokens: who opened the page, and what their page may do.

``TokenAuth`` is the Bokeh server's auth provider. A browser gives its token
once, as ``/?token=…``; the answer sets it as an HttpOnly, SameSite=Strict
cookie, which every later request (the page's own WebSocket included) sends,
and sends the browser back to the address without the token. A request with
neither gets the login page: a 401 saying how to open the dashboard. The token
is never put in the page's session (Bokeh embeds the request's cookies and
headers there, which scripts could read): the provider leaves the entry it
found on the request, and ``caller`` reads it from there.

``ActingEngine`` is the engine as one token uses it from the page: every change
carries the token's name as ``actor``, and what its scopes do not allow is
refused, whatever the page shows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bokeh.server.auth_provider import AuthProvider
from tornado.web import RequestHandler

from argyll.access import OPEN, Scope, Token
from argyll.errors import ForbiddenError
from argyll.events import ANONYMOUS, Event
from argyll.flow_query import FlowPage, FlowQuery
from argyll.model import Catalog, FlowID, FlowStatus, Step
from argyll.runtime.engine import Engine
from argyll.server.tokens import TokenFile
from argyll.wire import TOKEN_COOKIE, TOKEN_QUERY

LOGIN_PATH = "/token-required"
_TOKEN_IN_QUERY = re.compile(rf"([?&]{TOKEN_QUERY}=)[^&\s]*")
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
    """Where Bokeh sends a request it did not let in (``?next=`` the address asked for).

    With a valid cookie (the hop after ``?token=``), back to that address without its
    token; otherwise a 401 page that says how to get in.
    """

    tokens: TokenFile

    def get(self) -> None:
        secret = self.get_cookie(TOKEN_COOKIE)
        if secret and self.tokens.current().find(secret) is not None:
            self.redirect(without_token(self.get_query_argument("next", "/")))
            return
        self.set_status(401)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(LOGIN_PAGE)


def without_token(address: str) -> str:
    """``address`` (a path on this server) with no ``token`` in its query; ``/`` for
    anything else, so the hop never leads off this server."""
    parts = urlsplit(address)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return "/"
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != TOKEN_QUERY]
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


class HideTokenQuery(logging.Filter):
    """Masks ``?token=…`` in the access lines of the dashboard's server (Tornado's own,
    which log the query too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def hide_token_queries(logger: logging.Logger) -> None:
    """Add ``HideTokenQuery`` to ``logger``, once."""
    if not any(isinstance(f, HideTokenQuery) for f in logger.filters):
        logger.addFilter(HideTokenQuery())


class TokenAuth(AuthProvider):
    """Bokeh's hooks for a dashboard behind the tokens of ``tokens``.

    A request with ``?token=`` is never let in as it is: a valid token becomes the
    cookie (an invalid one clears it), and the login hop sends the browser back to the
    same address without the token, so it stays out of the address bar, the history
    and the page's session.
    """

    def __init__(self, tokens: TokenFile) -> None:
        self.tokens = tokens
        self._login = type("TokenRequired", (TokenRequired,), {"tokens": tokens})
        hide_token_queries(logging.getLogger("tornado.access"))
        super().__init__()

    @property
    def get_user(self) -> Callable[[RequestHandler], str | None]:
        return self._user

    @property
    def login_url(self) -> str:
        return LOGIN_PATH

    @property
    def login_handler(self) -> type[RequestHandler]:
        return self._login

    def _user(self, handler: RequestHandler) -> str | None:
        given = handler.get_query_argument(TOKEN_QUERY, None)
        if given is not None:
            self._keep(handler, given)
            return None
        secret = handler.get_cookie(TOKEN_COOKIE)
        token = self.tokens.current().find(secret) if secret else None
        if token is None:
            return None
        handler.request.argyll_token = token  # type: ignore[attr-defined]
        return token.name

    def _keep(self, handler: RequestHandler, given: str) -> None:
        """The cookie of a valid ``?token=``; an invalid one clears any cookie kept."""
        if self.tokens.current().find(given) is None:
            handler.clear_cookie(TOKEN_COOKIE)
            return
        handler.set_cookie(
            TOKEN_COOKIE,
            given,
            httponly=True,
            samesite="Strict",
            secure=handler.request.protocol == "https",
        )


NOBODY = Token(ANONYMOUS, "", frozenset())
"""Who a page behind tokens stands for if its request names no token: no scope at all."""


def caller(request: Any, guarded: bool) -> Token:
    """Who opened the page of ``request`` (a session's request): the token ``TokenAuth``
    found; without tokens (not ``guarded``) ``OPEN``, and ``NOBODY`` if none is found."""
    found = getattr(request, "argyll_token", None)
    if isinstance(found, Token):
        return found
    return NOBODY if guarded else OPEN


class ActingEngine:
    """``engine`` as ``token`` uses it: changes carry its name and need its scopes."""

    def __init__(self, engine: Engine, token: Token) -> None:
        self.engine, self.token = engine, token

    @property
    def catalog(self) -> Catalog:
        return self.engine.catalog

    def events(self, after: str | None = None) -> AsyncIterator[Event]:
        return self.engine.events(after)

    async def query_flows(self, query: FlowQuery) -> FlowPage:
        return await self.engine.query_flows(query)

    async def flow_counts(self) -> dict[FlowStatus, int]:
        return await self.engine.flow_counts()

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
