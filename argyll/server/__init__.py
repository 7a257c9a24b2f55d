"""The HTTP face of the engine: REST API, webhooks, the event WebSocket (Tornado)."""

from argyll.server.app import Server, make_app, serve

__all__ = ["Server", "make_app", "serve"]
