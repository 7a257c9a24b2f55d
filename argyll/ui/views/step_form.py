"""The step form: register or edit a step, the engine's problems shown under each field."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import panel as pn
import param

from argyll.errors import ArgyllError, ValidationError
from argyll.ui.feed import EngineSource, Schedule
from argyll.ui.format import JSON_FIELDS, STEP_FIELDS, errors_html, escape, field_of, problems_of
from argyll.ui.model import DashboardModel
from argyll.ui.views.panes import CSS, html_pane


class StepForm:
    """Register or edit a step; the engine's validation problems appear under each field."""

    def __init__(self, model: DashboardModel, engine: EngineSource, schedule: Schedule) -> None:
        self.model, self.engine, self.schedule = model, engine, schedule
        self.picker = pn.widgets.Select(
            label="Edit", options=["(new step)"], width=260, css_classes=["argyll-edit-picker"]
        )
        self.picker.param.watch(self._pick, "value")
        self.fields = self._fields()
        self.errors = {name: html_pane("", margin=(0, 10)) for name in (*STEP_FIELDS, "")}
        register = pn.widgets.Button(label="Register", color="primary")
        update = pn.widgets.Button(label="Update", color="warning")
        register.on_click(self._register)
        update.on_click(self._update)
        grid = pn.GridBox(
            *(
                pn.Column(self.fields[n], self.errors[n], css_classes=[f"argyll-field-{n}"])
                for n in STEP_FIELDS
            ),
            ncols=2,
            sizing_mode="stretch_width",
        )
        self.panel = pn.Column(
            pn.Row(self.picker, register, update),
            self.errors[""],
            grid,
            sizing_mode="stretch_width",
            stylesheets=[CSS],
            css_classes=["argyll-step-form"],
        )
        model.param.watch(self._catalog_changed, "catalog")
        self._catalog_changed()

    def _fields(self) -> dict[str, Any]:
        mono = ["textarea { font-family: monospace; font-size: 12px; }"]
        fields: dict[str, Any] = {
            "id": pn.widgets.TextInput(label="id"),
            "name": pn.widgets.TextInput(label="name"),
            "type": pn.widgets.Select(label="type", options=["sync", "async", "script"]),
            "version": pn.widgets.TextInput(label="version"),
        }
        for name in JSON_FIELDS:
            fields[name] = pn.widgets.TextAreaInput(
                label=f"{name} (JSON)", height=120, sizing_mode="stretch_width", stylesheets=mono
            )
        return fields

    def _catalog_changed(self, *_: Any) -> None:
        self.picker.options = ["(new step)", *sorted(self.model.catalog.steps)]

    def _pick(self, event: param.parameterized.Event) -> None:
        step = self.model.catalog.steps.get(event.new)
        definition = step.to_dict() if step is not None else {}
        for name, widget in self.fields.items():
            value = definition.get(name)
            if name in JSON_FIELDS:
                _show_text(widget, json.dumps(value, indent=2) if value is not None else "")
            elif name == "type":
                widget.value = value or "sync"
            else:
                _show_text(widget, value or "")
        self._show([])

    def definition(self) -> dict[str, Any]:
        """The form as a step definition; JSON that does not parse is a problem of its field."""
        out: dict[str, Any] = {}
        problems = []
        for name, widget in self.fields.items():
            text = _text_of(widget)
            if name not in JSON_FIELDS:
                if text:
                    out[name] = text
                continue
            if not text.strip():
                continue
            try:
                out[name] = json.loads(text)
            except ValueError as exc:
                problems.append((name, f"not valid JSON: {exc}"))
        if problems:
            raise ValidationError(problems)
        return out

    def _show(self, problems: Iterable[tuple[str, str]]) -> None:
        grouped: dict[str, list[tuple[str, str]]] = {name: [] for name in self.errors}
        for where, reason in problems:
            grouped[field_of(where)].append((where, reason))
        for name, pane in self.errors.items():
            pane.object = errors_html(grouped[name])

    async def _submit(self, action: Callable[[dict[str, Any]], Any], verb: str) -> None:
        try:
            definition = self.definition()
            step = await action(definition)
        except ArgyllError as exc:
            problems = problems_of(exc)
            self.schedule(lambda: self._show(problems))
            return
        self.schedule(lambda: self._done(f"{verb} step", step.id))

    def _done(self, what: str, step_id: str) -> None:
        self._show([])
        self.errors[""].object = f'<p class="ok">{what} <code>{escape(step_id)}</code></p>'

    async def _register(self, _: Any) -> None:
        await self._submit(self.engine.register_step, "Registered")

    async def _update(self, _: Any) -> None:
        step_id = _text_of(self.fields["id"])
        await self._submit(lambda d: self.engine.update_step(step_id, d), "Updated")


def _show_text(widget: Any, text: str) -> None:
    """Put ``text`` in a text box as if typed.

    The form reads ``value_input`` (what the box holds now, not only once it
    lost focus), which setting ``value`` from Python leaves as it was.
    """
    widget.value = widget.value_input = text


def _text_of(widget: Any) -> str:
    """What a field holds now: a text box's live text, a select's value."""
    return (widget.value_input if hasattr(widget, "value_input") else widget.value) or ""
