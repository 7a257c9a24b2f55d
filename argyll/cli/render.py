"""What the client commands print: rich tables for people, the API's JSON for scripts.

Tables are drawn from the API's JSON (docs/rest.md shapes), never from model objects,
so what a table shows is what ``-o json`` would print. Cells are ``Text``, never
markup, so a value such as ``[1, 2]`` is shown as it is.

No cell is ever cut short. Piped (``| grep``), a table is as wide as its rows, unless
``COLUMNS`` says otherwise. Too wide for the terminal (or ``COLUMNS``), the ``WRAPPED``
columns wrap first, then the other one-line columns fold; the ``KEYS`` columns never
narrow, so an id stays whole and copyable, and a row still too wide runs past the edge.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click
from rich.cells import cell_len
from rich.console import Console
from rich.json import JSON
from rich.table import Table
from rich.text import Text

from argyll.cli.remote import Answer
from argyll.explain import describe

if TYPE_CHECKING:
    from argyll.cli.options import Settings
    from argyll.client.protocol import Call

WRAPPED = frozenset(
    {"VALUE", "DETAIL", "ERROR", "REQUIRED", "OPTIONAL", "OUTPUTS", "MORE", "EXPLANATION"}
)
"""Columns whose long values wrap; the others (ids, times, statuses) stay on one line
while the table fits (see ``fit``)."""

KEYS = frozenset({"ID", "STEP", "FROM STEP", "ATTRIBUTE", "FIELD", "SEQ"})
"""Columns of names and ids, never narrowed: what an operator copies into the next command."""

PIPED_WIDTH = 1_000_000
"""The width a table may take when stdout is not a terminal: as much as its rows need."""


def stdout() -> Console:
    """A console on the current stdout (looked up now, so test runners can capture it).

    Not a terminal and no ``COLUMNS``: rows are drawn whole, where rich would squeeze them
    into 80 columns (or into the width of a terminal the pipe starts from).
    """
    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS", "").isdigit()
    return Console(highlight=False, width=PIPED_WIDTH if piped else None)


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(body: bytes) -> None:
    """The API's JSON: verbatim (ending in a newline) when piped, indented on a terminal."""
    text = body.decode()
    if sys.stdout.isatty():
        stdout().print(JSON(text))
    else:
        click.echo(text.rstrip("\n"))


def compact(value: Any) -> str:
    """A value as a table shows it: strings bare, anything else as JSON (``null``, not None)."""
    return value if isinstance(value, str) else json.dumps(value)


def table(*columns: str, title: str | None = None) -> Table:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold", no_wrap=column not in WRAPPED)
    return grid


def add_row(grid: Table, *cells: Any) -> None:
    """A row; a one-line column is kept at least as wide as its widest cell (see ``fit``)."""
    texts = [Text("" if cell is None else compact(cell)) for cell in cells]
    for column, text in zip(grid.columns, texts, strict=True):
        if column.no_wrap:
            column.min_width = max(column.min_width or 0, *map(cell_len, text.plain.split("\n")))
    grid.add_row(*texts)


def fit(grid: Table, console: Console) -> None:
    """Let the one-line columns other than ``KEYS`` fold if, whole, they cannot fit."""
    unbounded = console.options.update_width(PIPED_WIDTH)
    if console.measure(grid, options=unbounded).minimum <= console.width:
        return
    for column in grid.columns:
        if column.header not in KEYS:
            column.no_wrap, column.min_width = False, 1


def fields(data: Mapping[str, Any], names: Iterable[str], title: str | None = None) -> Table:
    """A two-column table of the named fields ``data`` has."""
    grid = table("FIELD", "VALUE", title=title)
    for name in names:
        if data.get(name) is not None:
            add_row(grid, name, data[name])
    return grid


def show(*renderables: Any) -> None:
    """Print tables fitted to the console, never cropped at its edge (see the module's doc)."""
    console = stdout()
    for renderable in renderables:
        if isinstance(renderable, Table):
            fit(renderable, console)
        console.print(renderable, crop=False)


def fetched(settings: Settings, call: Call[Any], draw: Callable[[Any], Any]) -> None:
    """Send one request to the engine and show its reply (see ``reply``)."""
    with settings.remote() as remote:
        answer = remote.send(call)
    reply(answer, settings.as_json, draw)


def reply(answer: Answer, as_json: bool, draw: Callable[[Any], Any]) -> None:
    """A reply as the API's JSON, or drawn for people by ``draw`` (one table or several)."""
    if as_json:
        print_json(answer.body)
        return
    drawn = draw(answer.data)
    if drawn is not None:
        show(*(drawn if isinstance(drawn, list) else [drawn]))


def message(data: Mapping[str, Any]) -> None:
    """A reply that says what happened (``{message, …}``): the message alone."""
    click.echo(data["message"])


def roles(step: Mapping[str, Any], role: str) -> str:
    attributes = step.get("attributes", {})
    return ", ".join(name for name, spec in attributes.items() if spec.get("role") == role)


def steps(steps: Sequence[Mapping[str, Any]], title: str | None = None) -> Table:
    grid = table("ID", "TYPE", "REQUIRED", "OPTIONAL", "OUTPUTS", title=title)
    for step in steps:
        add_row(
            grid,
            step["id"],
            step["type"],
            roles(step, "required"),
            roles(step, "optional"),
            roles(step, "output"),
        )
    return grid


def step(definition: Mapping[str, Any]) -> list[Table]:
    """A step: its own fields, then one row per attribute."""
    own = [name for name in definition if name != "attributes"]
    attributes = table("ATTRIBUTE", "ROLE", "TYPE", "MORE", title="attributes")
    for name, spec in definition.get("attributes", {}).items():
        more = {key: value for key, value in spec.items() if key not in ("role", "type")}
        add_row(attributes, name, spec.get("role"), spec.get("type"), more or None)
    return [fields(definition, own, title=f"step {definition['id']}"), attributes]


def plan(data: Mapping[str, Any], where: str = "") -> list[Table]:
    """A plan's goals, requirements and steps, what it left out, then each child plan."""
    title = f"child plan of {where}" if where else "plan"
    summary = fields(
        {"goals": ", ".join(data["goals"]), "required": ", ".join(data["required"]) or "-"},
        ("goals", "required"),
        title=title,
    )
    drawn = [summary, steps(list(data["steps"].values()), title=f"{title}: steps")]
    excluded = data.get("excluded", {})
    if excluded:
        left_out = table("STEP", "REASON", "ATTRIBUTES", title=f"{title}: excluded")
        for reason, step_names in excluded.items():
            for step_id, names in step_names.items():
                add_row(left_out, step_id, reason, ", ".join(names))
        drawn.append(left_out)
    for step_id, child in data.get("children", {}).items():
        drawn += plan(child, f"{where}/{step_id}" if where else step_id)
    return drawn


def flows(data: Mapping[str, Any]) -> Table:
    grid = table("ID", "STATUS", "CREATED", "COMPLETED", "LABELS", "ERROR")
    for flow in data["flows"]:
        add_row(
            grid,
            flow["id"],
            flow["status"],
            flow["created_at"],
            flow.get("completed_at"),
            labels_text(flow.get("labels", {})),
            flow.get("error"),
        )
    return grid


def labels_text(labels: Mapping[str, str]) -> str | None:
    return ", ".join(f"{name}={value}" for name, value in labels.items()) or None


def flow(state: Mapping[str, Any]) -> list[Table]:
    """A flow's state: its summary, its steps' executions, its attributes."""
    summary = dict(
        state,
        goals=", ".join(state["plan"]["goals"]),
        labels=labels_text(state.get("labels", {})),
    )
    names = ("id", "status", "goals", "labels", "created_at", "completed_at", "error")
    executions = table("STEP", "STATUS", "STARTED", "MS", "ERROR", title="steps")
    for step_id, execution in state["executions"].items():
        add_row(
            executions,
            step_id,
            execution["status"],
            execution.get("started_at"),
            execution.get("duration"),
            execution.get("error"),
        )
    attributes = table("ATTRIBUTE", "VALUE", "FROM STEP", title="attributes")
    for name, attribute in state["attributes"].items():
        add_row(attributes, name, attribute["value"], attribute.get("step") or "init")
    return [fields(summary, names, title=f"flow {state['id']}"), executions, attributes]


def explanation(data: Mapping[str, Any], names: Mapping[str, str]) -> list[Table]:
    """``GET /engine/flow/{id}/explain``: per planned step its reason, in plain words;
    then the providers the plan left out, if any."""
    summary = fields(data, ("flow_id", "status"), title=f"flow {data['flow_id']}")
    planned = table("STEP", "STATUS", "REASON", "EXPLANATION", title="steps")
    for step_id, entry in data["steps"].items():
        add_row(planned, step_id, entry["status"], entry["reason"], describe(step_id, entry, names))
    drawn = [summary, planned]
    if data["not_in_plan"]:
        left_out = table("STEP", "REASON", "EXPLANATION", title="not in the plan")
        for step_id, entry in data["not_in_plan"].items():
            add_row(left_out, step_id, entry["reason"], describe(step_id, entry, names))
        drawn.append(left_out)
    return drawn


def event_detail(event: Mapping[str, Any]) -> str:
    """The one thing worth reading in an event's data, if any; then who did it and why."""
    data = event.get("data", {})
    parts = [_what(event["type"], data)]
    if data.get("actor") is not None:
        parts.append(f"by {data['actor']}")
    if data.get("reason"):
        parts.append(f"reason: {data['reason']}")
    return "; ".join(part for part in parts if part)


def _what(event_type: str, data: Mapping[str, Any]) -> str:
    if data.get("error"):
        return str(data["error"])
    if event_type == "attribute_set":
        return f"{data['name']} = {json.dumps(data['value'])}"
    if event_type == "flow_started":
        return "goals: " + ", ".join(data["plan"]["goals"])
    if event_type == "flow_retried":
        return "steps: " + ", ".join(data["steps"])
    if data.get("outputs") is not None:
        return json.dumps(data["outputs"])
    return ""


def event_cells(event: Mapping[str, Any]) -> tuple[Any, ...]:
    data = event.get("data", {})
    return event["seq"], event["timestamp"], event["type"], data.get("step_id"), event_detail(event)


EVENT_COLUMNS = ("SEQ", "TIME", "TYPE", "STEP", "DETAIL")


def events(data: Mapping[str, Any]) -> Table:
    grid = table(*EVENT_COLUMNS)
    for event in data["events"]:
        add_row(grid, *event_cells(event))
    return grid


def event_header() -> str:
    return _event_row(*EVENT_COLUMNS)


def event_line(event: Mapping[str, Any]) -> str:
    """One followed event as a line (a live stream cannot be a table drawn at the end)."""
    return _event_row(*event_cells(event))


def _event_row(seq: Any, timestamp: Any, event_type: Any, step_id: Any, detail: Any) -> str:
    step_text = step_id or "-"
    return f"{seq!s:>5}  {timestamp!s:<24}  {event_type!s:<22} {step_text!s:<16} {detail}".rstrip()


def health(service: Mapping[str, Any], steps: Mapping[str, Any]) -> list[Table]:
    names = ("status", "service", "version", "store", "latency_ms", "error")
    grid = table("STEP", "STATUS", "ERROR", title="steps")
    for step_id, step_health in steps["health"].items():
        add_row(grid, step_id, step_health["status"], step_health.get("error"))
    return [fields(service, names, title="engine"), grid]
