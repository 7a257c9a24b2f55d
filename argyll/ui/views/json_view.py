"""The JSON viewer: a document as a collapsible, pretty-printed tree with a Copy button.

``json_html`` is pure (a value in, HTML out). Every object and array is a
``<details>`` that folds to ``{… 3 keys}``; each token (key, string, number,
punctuation) is one unbreakable span, so a line wraps only between tokens and
a token wider than the panel scrolls sideways, never breaking mid-word. The
Copy button carries the document as JSON text. What starts folded is kept in a
``<template>`` until first opened, so a page of folded events stays light (and
their text is not found by the browser's search until shown). ``DocumentsHTML``
shows such HTML, unfolds it, makes the buttons copy, and keeps what the user
folded or opened across redraws.
"""

from __future__ import annotations

import html
import json
from typing import Any

import param
from panel.custom import JSComponent

from argyll.ui.views.theme import var

OPEN_DEPTH = 2
"""Objects and arrays nested deeper than this start folded."""


def json_text(value: Any) -> str:
    """The document as the Copy button gives it: pretty-printed JSON."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def json_html(title: str, value: Any, *, key: str, open_depth: int = OPEN_DEPTH) -> str:
    """One document titled ``title``; ``key`` names it uniquely on the page (folds are kept by it).

    ``open_depth`` 0 starts it folded.
    """
    label = html.escape(title)
    copy = html.escape(json_text(value), quote=True)
    tree = _node(value, key, 0, "", False, open_depth)
    return (
        f'<section class="json-doc" aria-label="{label}">'
        f'<div class="json-head"><span class="json-title">{label}</span>'
        f'<button type="button" class="json-copy" data-json="{copy}" '
        f'title="Copy {label} as JSON">Copy</button></div>'
        f'<div class="json-body">{tree}</div></section>'
    )


def _token(kind: str, text: str) -> str:
    return f'<span class="json-{kind}">{html.escape(text)}</span>'


def _scalar(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, str) or not isinstance(value, int | float | bool | type(None)):
        return _token("string", text)
    if isinstance(value, bool) or value is None:
        return _token("literal", text)
    return _token("number", text)


def _entries(value: dict | list) -> list[tuple[str, Any, str]]:
    """(label, child, path segment) for each member of a container."""
    if isinstance(value, dict):
        colon = _token("punct", ": ")
        return [
            (_token("key", json.dumps(str(k), ensure_ascii=False)) + colon, v, str(k))
            for k, v in value.items()
        ]
    return [("", v, str(i)) for i, v in enumerate(value)]


def _node(value: Any, path: str, depth: int, label: str, comma: bool, open_depth: int) -> str:
    """One value: a line for a scalar or an empty container, a ``<details>`` for the rest."""
    tail = _token("punct", ",") if comma else ""
    brackets = "{}" if isinstance(value, dict) else "[]"
    if not isinstance(value, dict | list):
        return f'<div class="json-line">{label}{_scalar(value)}{tail}</div>'
    if not value:
        return f'<div class="json-line">{label}{_token("punct", brackets)}{tail}</div>'
    entries = _entries(value)
    unit = ("key" if isinstance(value, dict) else "item") + ("" if len(value) == 1 else "s")
    children = "".join(
        _node(child, f"{path}/{name}", depth + 1, child_label, i < len(entries) - 1, open_depth)
        for i, (child_label, child, name) in enumerate(entries)
    )
    opened = depth < open_depth
    if not opened:
        children = f'<template class="json-lazy">{children}</template>'
    folded = _token("fold", f" … {len(value)} {unit} {brackets[1]}{',' if comma else ''}")
    return (
        f'<details class="json-node" data-path="{html.escape(path, quote=True)}"'
        f"{' open' if opened else ''}>"
        f"<summary>{label}{_token('punct', brackets[0])}{folded}</summary>"
        f'<div class="json-children">{children}</div>'
        f'<div class="json-line">{_token("punct", brackets[1])}{tail}</div></details>'
    )


JSON_CSS = f"""
.json-doc {{ margin: 6px 0 10px; border: 1px solid {var("border")}; border-radius: 8px;
  background: {var("raised")}; }}
.json-head {{ display: flex; align-items: center; justify-content: space-between;
  padding: 3px 8px; border-bottom: 1px solid {var("border")}; font: 12px sans-serif; }}
.json-title {{ color: {var("soft")}; font-weight: bold; }}
.json-copy {{ font: 12px sans-serif; padding: 1px 10px; border-radius: 6px; cursor: pointer;
  background: {var("surface")}; color: {var("ink")}; border: 1px solid {var("border")}; }}
.json-copy:focus-visible {{ outline: 2px solid {var("accent")}; }}
.json-body {{ overflow-x: auto; padding: 4px 8px; font: 12px/1.5 monospace;
  color: {var("ink")}; }}
.json-line, .json-node > summary {{ white-space: normal; overflow-wrap: normal;
  word-break: normal; }}
.json-line span, .json-node > summary span {{ white-space: pre; }}
.json-children {{ padding-left: 1.4em; border-left: 1px dotted {var("border")};
  margin-left: 0.3em; }}
.json-node > summary {{ cursor: pointer; list-style-position: outside; margin-left: -0.1em; }}
.json-node > summary:focus-visible {{ outline: 2px solid {var("accent")}; }}
.json-node[open] > summary .json-fold {{ display: none; }}
.json-key {{ color: {var("json-key")}; }} .json-string {{ color: {var("json-string")}; }}
.json-number {{ color: {var("json-number")}; }} .json-literal {{ color: {var("json-literal")}; }}
.json-punct, .json-fold {{ color: {var("soft")}; }}
"""


class DocumentsHTML(JSComponent):
    """HTML holding JSON documents: their Copy buttons copy, and folds survive redraws.

    Bumping ``reveal`` scrolls the element marked ``data-reveal`` (else the
    top) to the top of the pane's scrolling container, and that container into
    view: what a click shows must be seen, while live updates (``object``
    only) never move the page under the user.
    """

    object = param.String(default="", doc="The HTML to show (already escaped).")
    reveal = param.Integer(default=0, doc="Bump to scroll the pane into view.")

    _esm = """
    async function copy(text) {
      try {
        await navigator.clipboard.writeText(text)
      } catch (unavailable) {
        const area = document.createElement("textarea")
        area.value = text
        document.body.append(area)
        area.select()
        document.execCommand("copy")
        area.remove()
      }
    }
    export function render({ model, el }) {
      const body = document.createElement("div")
      const show = () => {
        const folds = new Map()
        for (const node of body.querySelectorAll("details[data-path]")) {
          folds.set(node.dataset.path, node.open)
        }
        body.innerHTML = model.object
        for (const node of body.querySelectorAll("details[data-path]")) {
          if (folds.has(node.dataset.path)) { node.open = folds.get(node.dataset.path) }
        }
      }
      body.addEventListener("toggle", (event) => {
        const lazy = event.target.querySelector?.(":scope > .json-children > template.json-lazy")
        if (event.target.open && lazy) { lazy.replaceWith(lazy.content) }
      }, true)
      body.addEventListener("click", async (event) => {
        const button = event.target.closest(".json-copy")
        if (!button) { return }
        await copy(button.dataset.json)
        button.textContent = "Copied"
        setTimeout(() => { button.textContent = "Copy" }, 1500)
      })
      show()
      model.on("object", show)
      model.on("reveal", () => {
        const target = body.querySelector("[data-reveal]") || body
        let scroller = el
        while (scroller && !["auto", "scroll"].includes(getComputedStyle(scroller).overflowY)) {
          scroller = scroller.parentElement || scroller.getRootNode().host
        }
        if (!scroller) { target.scrollIntoView({ block: "nearest" }); return }
        const top = target.getBoundingClientRect().top - scroller.getBoundingClientRect().top
        scroller.scrollTop += top - 8
        scroller.scrollIntoView({ block: "nearest" })
      })
      return body
    }
    """
