"""Panel views over a ``DashboardModel``: graph, plan preview, flows, timeline, events, form.

One module per view, each binding its widgets to the model; ``page`` puts them
together. ``dashboard(engine)`` builds one page: its own model, the views bound
to it, and a ``Feed`` that keeps the model live. What the views show as text
comes from ``argyll.ui.format``. In Jupyter run ``pn.extension("tabulator")``
first, then show ``dashboard(engine)``.
"""

from argyll.ui.views.page import Dashboard, dashboard

__all__ = ["Dashboard", "dashboard"]
