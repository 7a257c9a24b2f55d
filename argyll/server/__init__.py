"""The HTTP face of the engine: REST API, webhooks, the event WebSocket (Tornado).

``serve`` serves a running ``Engine``; ``serve_engine`` starts one in-process and
serves it on loopback (notebooks, tests, step development).
"""

from argyll.server.app import Server, make_app, serve
from argyll.server.local import LocalEngine, serve_engine

__all__ = ["LocalEngine", "Server", "make_app", "serve", "serve_engine"]
