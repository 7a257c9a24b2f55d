"""The dashboard: a param model fed by the engine's events, and Panel views over it.

``model`` (the state) and ``feed`` (what fills it) know nothing of Panel;
``format`` turns model values into the text the views show; ``views`` (one
module per view, and the page) and ``serve`` are the Panel side. Importing this
package does not load Panel until ``dashboard`` or ``serve_dashboard`` is used.
"""

from typing import TYPE_CHECKING, Any

from argyll.ui.model import DashboardModel

if TYPE_CHECKING:
    from argyll.ui.serve import serve_dashboard
    from argyll.ui.views import dashboard

__all__ = ["DashboardModel", "dashboard", "serve_dashboard"]


def __getattr__(name: str) -> Any:
    if name == "dashboard":
        from argyll.ui.views import dashboard

        return dashboard
    if name == "serve_dashboard":
        from argyll.ui.serve import serve_dashboard

        return serve_dashboard
    raise AttributeError(f"module 'argyll.ui' has no attribute {name!r}")
