"""Light and dark themes: CSS variables switched in the browser, and the plots' colours.

Every component's stylesheet reads the ``--argyll-*`` variables (``ThemeDesign``
adds ``THEME_CSS`` to each), and CSS variables inherit through shadow roots, so
setting them on ``<html>`` restyles the whole page at once, without a reload.
``ThemeToggle`` does that in the browser: it follows ``prefers-color-scheme``
until the toggle is pressed, keeps that choice in ``sessionStorage``, and
reports the theme to the server, which recolours the Bokeh plots (canvas
drawings that CSS cannot reach).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import param
from panel.custom import JSComponent
from panel.theme.base import Inherit
from panel.theme.native import Native
from panel.viewable import Viewable

THEMES = ("light", "dark")

PALETTES: Mapping[str, Mapping[str, str]] = {
    "light": {
        "page": "#f1f5f9",
        "surface": "#ffffff",
        "raised": "#f8fafc",
        "ink": "#0f172a",
        "soft": "#334155",
        "muted": "#526077",
        "border": "#e2e8f0",
        "accent": "#1d4ed8",
        "on-accent": "#ffffff",
        "ok": "#15803d",
        "error": "#b91c1c",
        "code": "#0f172a",
        "json-key": "#1e40af",
        "json-string": "#166534",
        "json-number": "#9a3412",
        "json-literal": "#7e22ce",
        "selected": "#dbeafe",
        "plot": "#f8fafc",
        "edge": "#475569",
    },
    "dark": {
        "page": "#0b1120",
        "surface": "#111827",
        "raised": "#1f2937",
        "ink": "#e5e7eb",
        "soft": "#cbd5e1",
        "muted": "#9ca3af",
        "border": "#374151",
        "accent": "#60a5fa",
        "on-accent": "#0b1120",
        "ok": "#4ade80",
        "error": "#f87171",
        "code": "#e5e7eb",
        "json-key": "#93c5fd",
        "json-string": "#86efac",
        "json-number": "#fdba74",
        "json-literal": "#d8b4fe",
        "selected": "#172554",
        "plot": "#0f172a",
        "edge": "#94a3b8",
    },
}


def var(name: str) -> str:
    """``var(--argyll-name, light value)``: the light theme holds before the browser sets any."""
    return f"var(--argyll-{name}, {PALETTES['light'][name]})"


THEME_CSS = f"""
:host {{
  --panel-background-color: {var("surface")};
  --panel-on-background-color: {var("ink")};
  --panel-surface-color: {var("raised")};
  --panel-on-surface-color: {var("ink")};
  --panel-border-color: {var("border")};
  --panel-primary-color: {var("accent")};
  --panel-on-primary-color: {var("on-accent")};
  --panel-secondary-color: {var("raised")};
  --panel-on-secondary-color: {var("ink")};
  --background-color: {var("surface")};
  --background-text-color: {var("ink")};
  --surface-color: {var("raised")};
  --surface-text-color: {var("ink")};
  --text-color: {var("ink")};
  color: {var("ink")};
}}
.bk-input, .bk-input-group input, textarea, select, .choices__inner, .choices__input {{
  background-color: {var("surface")} !important; color: {var("ink")} !important;
  border-color: {var("border")} !important;
}}
label, .bk-input-group > label {{ color: {var("ink")}; }}
.choices__list--dropdown, .choices__list[aria-expanded] {{
  background-color: {var("surface")} !important; color: {var("ink")} !important;
}}
.choices__list--dropdown .choices__item--selectable.is-highlighted {{
  background-color: {var("selected")} !important;
}}
.choices__list--multiple .choices__item {{
  background-color: {var("accent")} !important; border-color: {var("accent")} !important;
  color: {var("on-accent")} !important;
}}
.bk-btn {{ color: {var("ink")}; }}
.bk-btn-default, .bk-btn-light {{
  background-color: {var("raised")} !important; color: {var("ink")} !important;
  border-color: {var("border")} !important;
}}
.bk-btn-default.bk-active, .bk-btn-light.bk-active {{
  background-color: {var("selected")} !important;
}}
.bk-btn-primary {{
  background-color: {var("accent")} !important; border-color: {var("accent")} !important;
  color: {var("on-accent")} !important;
}}
.bk-btn-warning {{ background-color: #f59e0b !important; color: #111827 !important; }}
.bk-header {{ border-color: {var("border")} !important; }}
.bk-tab {{ color: {var("soft")} !important; background-color: transparent !important; }}
.bk-tab.bk-active {{
  color: {var("ink")} !important; background-color: {var("surface")} !important;
  border-color: {var("border")} !important;
}}
.tabulator, .tabulator .tabulator-header, .tabulator .tabulator-header .tabulator-col,
.tabulator .tabulator-tableholder, .tabulator .tabulator-footer,
.tabulator-row, .tabulator-row .tabulator-cell {{
  background-color: {var("surface")} !important; color: {var("ink")} !important;
  border-color: {var("border")} !important;
}}
.tabulator-row.tabulator-row-even, .tabulator-row.tabulator-row-even .tabulator-cell {{
  background-color: {var("raised")} !important;
}}
.tabulator-row.tabulator-selected, .tabulator-row.tabulator-selected .tabulator-cell {{
  background-color: {var("selected")} !important;
}}
.tabulator .tabulator-footer .tabulator-page {{
  background-color: {var("raised")} !important; color: {var("ink")} !important;
}}
.tabulator .tabulator-footer .tabulator-page.active {{ color: {var("accent")} !important; }}
"""
"""Added to every component: Panel's own variables and Bokeh's widgets read the theme."""


class ThemeDesign(Native):
    """Panel's default design, plus ``THEME_CSS`` in every component's shadow root.

    A served page uses it for every component (``pn.config.design`` of its
    session); in a notebook it styles the dashboard's own panes.
    """

    modifiers = {Viewable: {"stylesheets": [Inherit, THEME_CSS]}}


TOGGLE_HEIGHT = 25
"""The theme switch's height in px, the same before and after its script has drawn it: the
header row keeps its height while the page loads, so nothing below it moves under a click."""


class ThemeToggle(JSComponent):
    """The theme switch: follows the system until pressed; the choice lasts the tab's session.

    ``theme`` is what the browser shows, sent back so the server can recolour
    the plots.
    """

    theme = param.Selector(objects=list(THEMES), default="light")
    palettes = param.Dict(default={}, doc="CSS variable values (without ``--argyll-``) per theme.")

    _esm = """
    const KEY = "argyll-theme"
    export function render({ model }) {
      const media = window.matchMedia("(prefers-color-scheme: dark)")
      const button = document.createElement("button")
      button.type = "button"
      button.className = "argyll-theme-toggle"
      const chosen = () => sessionStorage.getItem(KEY)
      const apply = () => {
        const theme = chosen() || (media.matches ? "dark" : "light")
        const root = document.documentElement
        for (const [name, value] of Object.entries(model.palettes[theme] || {})) {
          root.style.setProperty(`--argyll-${name}`, value)
        }
        root.dataset.theme = theme
        root.style.colorScheme = theme
        document.body.style.background = `var(--argyll-page)`
        const other = theme === "dark" ? "light" : "dark"
        button.textContent = theme === "dark" ? "☀ Light" : "☾ Dark"
        button.setAttribute("aria-label", `Switch to the ${other} theme`)
        button.setAttribute("aria-pressed", String(theme === "dark"))
        if (model.theme !== theme) { model.theme = theme }
      }
      button.addEventListener("click", () => {
        const now = document.documentElement.dataset.theme
        sessionStorage.setItem(KEY, now === "dark" ? "light" : "dark")
        apply()
      })
      media.addEventListener("change", () => { if (!chosen()) { apply() } })
      apply()
      return button
    }
    """

    _stylesheets = [
        f"""
        .argyll-theme-toggle {{
          font: 13px sans-serif; padding: 0 12px; border-radius: 999px; cursor: pointer;
          height: {TOGGLE_HEIGHT}px; box-sizing: border-box;
          background: {var("raised")}; color: {var("ink")}; border: 1px solid {var("border")};
        }}
        .argyll-theme-toggle:focus-visible {{ outline: 2px solid {var("accent")}; }}
        """
    ]

    def __init__(self, **params: Any) -> None:
        params.setdefault("palettes", {name: dict(colours) for name, colours in PALETTES.items()})
        params.setdefault("height", TOGGLE_HEIGHT)
        super().__init__(**params)


def theme_plot(plot: Any, theme: str) -> None:
    """Give a Bokeh figure the theme's background, axes and grid colours."""
    colours = PALETTES[theme]
    plot.background_fill_color = plot.border_fill_color = colours["plot"]
    for axis in plot.axis:
        axis.axis_line_color = axis.major_tick_line_color = axis.minor_tick_line_color = colours[
            "muted"
        ]
        axis.major_label_text_color = axis.axis_label_text_color = colours["soft"]
    for grid in plot.grid:
        grid.grid_line_color = colours["border"]
