"""The list of steps beside the graph: searchable, reachable by keyboard and screen reader.

The graph's cards are drawn on a canvas, which neither a search box nor a
screen reader can read. This list holds the same steps as real text: a filter
box, then a ``listbox`` whose every step is a focusable ``option``. Tab (or the
arrow keys) reaches a step and Enter or Space selects it, exactly as a click
on its card does (and again unselects it).
"""

from __future__ import annotations

from typing import Any

import param
from panel.custom import JSComponent

from argyll.ui.model import DashboardModel, step_role
from argyll.ui.views.theme import var


def step_items(model: DashboardModel) -> list[dict[str, str]]:
    """One entry per step, sorted by name: what the list shows and what its filter searches."""
    catalog = model.catalog
    steps, statuses = model.focus()
    items = []
    for sid, step in catalog.steps.items():
        status = statuses.get(sid, "")
        if not status and steps is not None and model.plan is not None and sid in steps:
            status = "in plan"
        words = [sid, step.name or "", step.type.value, *step.attributes]
        items.append(
            {
                "id": sid,
                "name": step.name or sid,
                "role": step_role(catalog, step).value,
                "type": step.type.value,
                "status": status,
                "search": " ".join(words).lower(),
            }
        )
    return sorted(items, key=lambda item: (item["name"].lower(), item["id"]))


class StepListBox(JSComponent):
    """The filter box and the listbox; a chosen step goes to ``on_pick``."""

    items = param.List(default=[], doc="``step_items`` of the model.")
    selected = param.String(default="", doc="The selected step's id.")

    _esm = """
    export function render({ model }) {
      const root = document.createElement("div")
      root.className = "argyll-step-list"
      const search = document.createElement("input")
      search.type = "search"
      search.placeholder = "Filter steps"
      search.setAttribute("aria-label", "Filter steps")
      search.className = "step-filter"
      const count = document.createElement("div")
      count.className = "step-count"
      count.setAttribute("aria-live", "polite")
      const list = document.createElement("ul")
      list.setAttribute("role", "listbox")
      list.setAttribute("aria-label", "Steps")
      list.className = "steps"
      root.append(search, count, list)
      const options = new Map()

      const span = (className, text) => {
        const el = document.createElement("span")
        el.className = className
        el.textContent = text
        return el
      }
      const pick = (id) => model.send_msg({ pick: id })
      const visible = () => [...list.children].filter((li) => !li.hidden)
      const move = (from, by) => {
        const shown = visible()
        const next = shown[shown.indexOf(from) + by]
        if (next) { next.focus() } else if (by < 0) { search.focus() }
      }
      const option = (id) => {
        const li = document.createElement("li")
        li.setAttribute("role", "option")
        li.tabIndex = 0
        li.dataset.id = id
        li.addEventListener("click", () => pick(id))
        li.addEventListener("keydown", (event) => {
          if (event.key === "Enter" || event.key === " ") { event.preventDefault(); pick(id) }
          else if (event.key === "ArrowDown") { event.preventDefault(); move(li, 1) }
          else if (event.key === "ArrowUp") { event.preventDefault(); move(li, -1) }
        })
        return li
      }
      const filter = () => {
        const words = search.value.toLowerCase().split(/\\s+/).filter(Boolean)
        let shown = 0
        for (const item of model.items) {
          const li = options.get(item.id)
          li.hidden = !words.every((word) => item.search.includes(word))
          shown += li.hidden ? 0 : 1
        }
        count.textContent = `${shown} of ${model.items.length} steps`
      }
      const draw = () => {
        const seen = new Set()
        model.items.forEach((item, i) => {
          seen.add(item.id)
          const li = options.get(item.id) || option(item.id)
          options.set(item.id, li)
          li.replaceChildren(
            span("step-name", item.name),
            span("step-status", item.status),
            span("step-meta", `${item.id} · ${item.role} · ${item.type}`),
          )
          li.setAttribute("aria-selected", String(item.id === model.selected))
          if (list.children[i] !== li) { list.insertBefore(li, list.children[i] || null) }
        })
        for (const [id, li] of options) {
          if (!seen.has(id)) { li.remove(); options.delete(id) }
        }
        filter()
      }
      search.addEventListener("input", filter)
      search.addEventListener("keydown", (event) => {
        if (event.key === "ArrowDown") { event.preventDefault(); visible()[0]?.focus() }
      })
      model.on("items", draw)
      model.on("selected", draw)
      draw()
      return root
    }
    """

    _stylesheets = [
        f"""
        .argyll-step-list {{ font: 13px sans-serif; color: {var("ink")}; }}
        .step-filter {{ width: 100%; box-sizing: border-box; padding: 5px 8px; font: inherit;
          border: 1px solid {var("border")}; border-radius: 6px;
          background: {var("surface")}; color: {var("ink")}; }}
        .step-count {{ color: {var("muted")}; font-size: 12px; margin: 4px 2px; }}
        .steps {{ list-style: none; margin: 0; padding: 0; }}
        .steps li {{ padding: 5px 8px; border-radius: 6px; cursor: pointer;
          border: 1px solid transparent; margin-bottom: 2px; }}
        .steps li:hover {{ background: {var("raised")}; }}
        .steps li[aria-selected="true"] {{ background: {var("selected")};
          border-color: {var("accent")}; }}
        .steps li:focus-visible {{ outline: 2px solid {var("accent")}; outline-offset: 1px; }}
        .step-name {{ font-weight: bold; color: {var("ink")}; }}
        .step-meta {{ display: block; color: {var("muted")}; font-size: 12px;
          font-family: monospace; white-space: nowrap; overflow: hidden;
          text-overflow: ellipsis; }}
        .step-status {{ float: right; font-size: 12px; color: {var("soft")}; }}
        """
    ]

    def __init__(self, on_pick: Any, **params: Any) -> None:
        super().__init__(**params)
        self._on_pick = on_pick

    def _handle_msg(self, msg: Any) -> None:
        if isinstance(msg, dict) and any(item["id"] == msg.get("pick") for item in self.items):
            self._on_pick(msg["pick"])


class StepList:
    """The steps of the catalog as a list, kept in step with the model's selection."""

    def __init__(self, model: DashboardModel) -> None:
        self.model = model
        self.box = StepListBox(
            model.select_step, items=step_items(model), sizing_mode="stretch_width"
        )
        self.panel = self.box
        model.param.watch(
            lambda *_: self._refresh(),
            ["catalog", "plan", "flow", "selected_flow", "selected_step"],
        )

    def _refresh(self) -> None:
        self.box.param.update(items=step_items(self.model), selected=self.model.selected_step)
