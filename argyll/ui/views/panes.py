"""The dashboard's look, shared by every view: its stylesheets, cards and HTML panes."""

from __future__ import annotations

from typing import Any

import panel as pn
import param
from bokeh.models.widgets.tables import HTMLTemplateFormatter
from panel.custom import JSComponent

from argyll.ui.views.theme import var

BADGE_COLORS = {
    "active": "#1d4ed8",
    "completed": "#15803d",
    "failed": "#b91c1c",
    "pending": "#475569",
    "skipped": "#57534e",
    "paused": "#6d28d9",
    "canceled": "#44403c",
    "compensating": "#7e22ce",
    "compensated": "#0f766e",
    "compensation_failed": "#9f1239",
    "completed-goals-skipped": "#b45309",
    "completed-some-goals-skipped": "#b45309",
}
"""Status badges: white text on each is readable (contrast at least 4.5) in both themes."""

BADGE_CSS = "".join(
    f".status-{status} {{ background: {color}; }}" for status, color in BADGE_COLORS.items()
)

CSS = f"""
.argyll-header {{ display: flex; align-items: center; gap: 18px; font-family: sans-serif;
  color: {var("ink")}; }}
.argyll-header h1 {{ font-size: 22px; margin: 0; color: {var("ink")}; }}
.pill {{ display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 13px;
  background: {var("raised")}; color: {var("soft")}; margin-right: 6px;
  border: 1px solid {var("border")}; }}
.status {{ padding: 1px 8px; border-radius: 999px; color: #fff; font-size: 12px; }}
{BADGE_CSS}
h1, h2, h3, h4, th, td, p, li {{ color: {var("ink")}; }}
.legend {{ font: 13px sans-serif; color: {var("soft")}; display: flex; flex-wrap: wrap;
  gap: 14px; align-items: center; }}
.legend b {{ color: {var("ink")}; }}
.swatch {{ display: inline-block; width: 12px; height: 12px; border-radius: 3px;
  margin-right: 4px; vertical-align: -1px; }}
.edge {{ display: inline-block; width: 26px; border-top: 2px solid {var("edge")};
  margin-right: 4px; vertical-align: 3px; }}
.edge.dashed {{ border-top-style: dashed; }}
table.kv {{ border-collapse: collapse; font: 13px sans-serif; width: 100%; }}
table.kv td, table.kv th {{ text-align: left; padding: 3px 6px;
  border-bottom: 1px solid {var("border")}; vertical-align: top; }}
table.kv td.value {{ font-family: monospace; overflow-wrap: anywhere; }}
.muted, td.muted {{ color: {var("muted")}; }}
.error, .error li, .error b {{ color: {var("error")}; font-size: 13px; }}
.fact-error {{ color: {var("error")}; font-size: 13px; }}
.ok, p.ok {{ color: {var("ok")}; font-size: 13px; }}
code {{ font-size: 12px; color: {var("code")}; }}
.connection {{ font-size: 13px; color: {var("muted")}; }}
.connection-reconnecting, .connection-lost {{ color: #fff; padding: 2px 10px;
  border-radius: 999px; font-weight: bold; }}
.connection-reconnecting {{ background: #b45309; }} .connection-lost {{ background: #b91c1c; }}
"""
TABLE_CSS = f"""
.status {{ padding: 1px 8px; border-radius: 999px; color: #fff; font-size: 12px; }}
{BADGE_CSS}
"""


CARD_STYLES = {
    "background": var("surface"),
    "border": f"1px solid {var('border')}",
    "border-radius": "10px",
    "box-shadow": "0 1px 2px rgba(15, 23, 42, 0.06)",
    "padding": "4px 8px",
}


def card(*objects: Any, **params: Any) -> pn.Column:
    return pn.Column(*objects, styles=CARD_STYLES, **params)


def html_pane(text: str, **params: Any) -> pn.pane.HTML:
    """An HTML pane that carries the dashboard's stylesheet into its shadow root."""
    return pn.pane.HTML(text, stylesheets=[CSS], **params)


def status_formatter() -> HTMLTemplateFormatter:
    """A status badge; its row's ``error`` (a failure, or why goals were skipped) on hover."""
    return HTMLTemplateFormatter(
        template='<span class="status status-<%= value.replace(/ · | /g, "-") %>" '
        'title="<%- error %>"><%- value %></span>'
    )


def title_formatter(column: str) -> HTMLTemplateFormatter:
    """A cell's text, wrapped, with its row's ``column`` on hover (a start time's UTC, say)."""
    return HTMLTemplateFormatter(
        template=f'<span style="white-space: normal" title="<%- {column} %>"><%- value %></span>'
    )


class HeaderHTML(JSComponent):
    """The page header; if the browser loses the page's server, its state says ``lost``.

    The server cannot say that itself once the WebSocket is gone, so the browser
    rewrites the header's ``.connection`` badge when Bokeh reports the loss.
    """

    object = param.String(default="", doc="The header's HTML (already escaped).")

    _esm = """
    export function render({ model, el, view }) {
      const body = document.createElement("div")
      let lost = false
      const show = () => {
        body.innerHTML = model.object
        const badge = body.querySelector(".connection")
        if (lost && badge) {
          badge.className = "connection connection-lost"
          badge.textContent = "connection to the dashboard server lost · reload when it is back"
        }
      }
      show()
      model.on("object", show)
      view.model.document.on_event("connection_lost", () => { lost = true; show() })
      return body
    }
    """
