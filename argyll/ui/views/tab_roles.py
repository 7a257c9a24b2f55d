"""ARIA tab roles and keys for Panel's ``Tabs``, which draws plain ``div`` headers.

``TabRoles`` finds the tabs whose host carries its ``target`` class and marks
them up as the WAI-ARIA tabs pattern: ``tablist``, ``tab`` with
``aria-selected`` and ``aria-controls``, ``tabpanel``; one tab stop (the
selected tab), the arrow keys, Home and End move between tabs, Enter and Space
select. It renders nothing itself and follows the tabs as Bokeh redraws them.
"""

from __future__ import annotations

import param
from panel.custom import JSComponent


class TabRoles(JSComponent):
    """Tab roles for the ``Tabs`` with CSS class ``target``."""

    target = param.String(doc="A CSS class of the tabs' host element.")
    label = param.String(default="Views", doc="The tab list's accessible name.")

    _esm = """
    function find(root, cls) {
      const queue = [root]
      while (queue.length) {
        const node = queue.shift()
        const hit = node.querySelector?.(`.${cls}`)
        if (hit) { return hit }
        for (const el of node.querySelectorAll?.("*") || []) {
          if (el.shadowRoot) { queue.push(el.shadowRoot) }
        }
      }
      return null
    }

    function mark(host, label) {
      const shadow = host.shadowRoot
      const wrapper = shadow?.querySelector(".bk-headers-wrapper")
      if (!wrapper) { return }
      const tabs = [...wrapper.querySelectorAll(".bk-tab")]
      const panels = [...shadow.children].filter(
        (el) => el.tagName === "DIV" && !el.classList.contains("bk-header"))
      wrapper.setAttribute("role", "tablist")
      wrapper.setAttribute("aria-label", label)
      tabs.forEach((tab, i) => {
        const active = tab.classList.contains("bk-active")
        const id = `argyll-tab-${i}`
        tab.id = id
        tab.setAttribute("role", "tab")
        tab.setAttribute("aria-selected", String(active))
        tab.tabIndex = active ? 0 : -1
        const panel = panels[i]
        if (panel) {
          panel.id = `argyll-tabpanel-${i}`
          panel.setAttribute("role", "tabpanel")
          panel.setAttribute("aria-labelledby", id)
          tab.setAttribute("aria-controls", panel.id)
        }
        if (i === host.focusTab && shadow.activeElement !== tab) { tab.focus() }
        if (!tab.dataset.keys) {
          tab.dataset.keys = "1"
          tab.addEventListener("keydown", (event) => keyed(event, tab, wrapper))
        }
      })
    }

    function keyed(event, tab, wrapper) {
      const tabs = [...wrapper.querySelectorAll(".bk-tab")]
      const i = tabs.indexOf(tab)
      const go = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault()
        tab.click()
      } else if (event.key in go) {
        event.preventDefault()
        const index = (go[event.key] + tabs.length) % tabs.length
        // Selecting may redraw the headers, late on a busy machine: the new header of that
        // tab takes the focus, until the user points or moves the focus elsewhere.
        wrapper.getRootNode().host.focusTab = index
        tabs[index].click()
        tabs[index].focus()
      }
    }

    export function render({ model }) {
      let tries = 0
      const attach = () => {
        const host = find(document, model.target)
        if (!host || !host.shadowRoot?.querySelector(".bk-headers-wrapper")) {
          if (tries++ < 100) { setTimeout(attach, 100) }
          return
        }
        const wrapper = host.shadowRoot.querySelector(".bk-headers-wrapper")
        const update = () => mark(host, model.label)
        const release = () => { host.focusTab = null }
        document.addEventListener("pointerdown", release, true)
        document.addEventListener("focusin", (event) => {
          if (!event.composedPath().some((el) => el.classList?.contains("bk-tab"))) { release() }
        }, true)
        new MutationObserver(update).observe(wrapper, {
          subtree: true, childList: true, attributes: true, attributeFilter: ["class"],
        })
        update()
      }
      attach()
      return document.createElement("span")
    }
    """
