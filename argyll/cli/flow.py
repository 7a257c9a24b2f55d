"""``argyll plan`` and ``argyll flow start|ls|get|wait|events``: planning goals and running flows.

``flow start --wait`` and ``flow events --follow`` read the flow's WebSocket
stream, which begins with its past events, so nothing that happened before the
stream opened is missed; both end when the flow ends. ``flow wait`` shows
nothing along the way, so it needs no stream: the engine holds its read until
the flow ends (``?wait=``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from argyll.cli import render
from argyll.cli.options import Settings, pass_settings, shared_options
from argyll.cli.remote import Answer, ExitCode, Remote
from argyll.client import protocol

ENDED_STEP_EVENTS = frozenset({"step_completed", "step_failed", "step_skipped"})


def parse_init(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """``--init``: a JSON object given inline, or ``@FILE`` (``@-``: stdin)."""
    return None if value is None else json_object(value)


def json_object(value: str) -> dict[str, Any]:
    """A JSON object given inline, or ``@FILE`` holding one (``@-``: stdin); else a usage error."""
    text = value
    if value.startswith("@"):
        path = value[1:]
        try:
            text = click.get_text_stream("stdin").read() if path == "-" else Path(path).read_text()
        except OSError as error:
            raise click.BadParameter(f"cannot read {path}: {error.strerror}") from None
    try:
        init = json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}") from None
    if not isinstance(init, dict):
        raise click.BadParameter(f"must be a JSON object, got {text.strip()}")
    return init


init_option = click.option(
    "--init",
    metavar="JSON|@FILE",
    callback=parse_init,
    help="the flow's initial attributes: a JSON object, or @FILE holding one (@- reads stdin)",
)
goals_argument = click.argument("goals", nargs=-1, required=True, metavar="GOAL...")


def parse_labels(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    """``--label NAME=VALUE``, repeated: one label each."""
    labels = {}
    for given in value:
        name, equals, text = given.partition("=")
        if not name or not equals:
            raise click.BadParameter(f"must be NAME=VALUE, got {given!r}")
        labels[name] = text
    return labels


def label_option(help_text: str) -> Any:
    return click.option(
        "--label",
        "labels",
        multiple=True,
        metavar="NAME=VALUE",
        callback=parse_labels,
        help=help_text,
    )


@click.command(short_help="Plan goals without starting a flow.")
@goals_argument
@init_option
@shared_options
@pass_settings
def plan(settings: Settings, goals: tuple[str, ...], init: dict[str, Any] | None) -> None:
    """The plan a flow for GOAL... would run, and the inputs it still needs (starts nothing)."""
    render.fetched(settings, protocol.plan(goals, init), render.plan)


@click.group()
@shared_options
def flow() -> None:
    """Start flows, look at them, and operate them (pause, cancel, retry, resolve steps)."""


@flow.command("start")
@goals_argument
@init_option
@click.option(
    "--id",
    "flow_id",
    metavar="ID",
    help="the flow's id (default: the engine picks one); repeating a request with it is a no-op",
)
@click.option(
    "--timeout",
    type=int,
    metavar="MS",
    help="fail the flow, saying it timed out, if it has not ended within MS milliseconds",
)
@label_option("a label the flow carries, to find it by (repeat for several)")
@click.option(
    "--wait",
    is_flag=True,
    help="show progress until the flow ends, then its state; exit 4 unless it completed",
)
@shared_options
@pass_settings
def start_flow(
    settings: Settings,
    goals: tuple[str, ...],
    init: dict[str, Any] | None,
    flow_id: str | None,
    timeout: int | None,
    labels: dict[str, str],
    wait: bool,
) -> None:
    """Start a flow for GOAL... and print its id."""
    with settings.remote() as remote:
        answer = remote.send(protocol.submit_flow(goals, init, flow_id, timeout, labels))
        if not wait:
            render.reply(answer, settings.as_json, render.message)
            return
        started = answer.data["flow_id"]
        outcome = asyncio.run(watch(remote, started))
        final = remote.send(protocol.get_flow(started))
    render.reply(final, settings.as_json, render.flow)
    render.stderr().print(Text(outcome), soft_wrap=True)
    if final.data["status"] != "completed":
        click.get_current_context().exit(ExitCode.BAD_OUTCOME)


@flow.command("ls")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    help="only flows with this status: active, paused, completed, failed or canceled "
    "(repeat: any of them)",
)
@label_option("only flows with this label (repeat: all of them)")
@click.option(
    "--goal", "goals", multiple=True, help="only flows with this goal (repeat: all of them)"
)
@click.option("--id-prefix", metavar="TEXT", help="only flows whose id starts with TEXT")
@click.option("--parent", metavar="ID", help="only the child flows of flow ID")
@click.option("--created-after", metavar="TIME", help="only flows created after TIME (ISO-8601)")
@click.option("--created-before", metavar="TIME", help="only flows created before TIME (ISO-8601)")
@click.option("--oldest-first", is_flag=True, help="oldest first (default: newest first)")
@click.option("--limit", type=int, help="flows per page (default 50, at most 1000)")
@click.option("--cursor", metavar="CURSOR", help="the page after the one that printed CURSOR")
@click.option("--all", "every_page", is_flag=True, help="every page, one after the other")
@shared_options
@pass_settings
def list_flows(settings: Settings, every_page: bool, **chosen: Any) -> None:
    """Flows, newest first, a page at a time: the next page's --cursor is printed after the
    table (and is next_cursor in the JSON)."""
    filters: dict[str, Any] = {name: value for name, value in chosen.items() if value}
    if filters.pop("oldest_first", False):
        filters["sort"] = "created_at"
    with settings.remote() as remote:
        answer = remote.send(protocol.list_page(**filters))
        pages = [answer]
        while every_page and answer.data["next_cursor"] is not None:
            answer = remote.send(protocol.list_page(**filters, cursor=answer.data["next_cursor"]))
            pages.append(answer)
    if every_page:
        flows = [flow for page in pages for flow in page.data["flows"]]
        joined = {"flows": flows, "count": len(flows), "next_cursor": None}
        answer = Answer(json.dumps(joined).encode(), joined)
    render.reply(answer, settings.as_json, render.flows)
    if not settings.as_json and answer.data["next_cursor"] is not None:
        render.stderr().print(f"more: --cursor {answer.data['next_cursor']}", soft_wrap=True)


@flow.command("get")
@click.argument("flow_id", metavar="ID")
@shared_options
@pass_settings
def get_flow(settings: Settings, flow_id: str) -> None:
    """A flow's state: status, each step's execution, attributes."""
    render.fetched(settings, protocol.get_flow(flow_id), render.flow)


@flow.command("wait")
@click.argument("flow_id", metavar="ID")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="give up (exit 4) if the flow is still running after this long",
)
@shared_options
@pass_settings
def wait_flow(settings: Settings, flow_id: str, timeout: float) -> None:
    """Wait for a flow to end, then show its state; exit 4 unless it completed.

    The engine holds the request until the flow ends (no polling).
    """
    with settings.remote() as remote:
        final = remote.wait_flow(flow_id, timeout)
    render.reply(final, settings.as_json, render.flow)
    if final.data["status"] != "completed":
        click.get_current_context().exit(ExitCode.BAD_OUTCOME)


@flow.command("events")
@click.argument("flow_id", metavar="ID")
@click.option(
    "--follow",
    is_flag=True,
    help="go on printing events as they happen until the flow ends (-o json: one a line)",
)
@shared_options
@pass_settings
def flow_events(settings: Settings, flow_id: str, follow: bool) -> None:
    """A flow's events, oldest first."""
    with settings.remote() as remote:
        if not follow:
            answer = remote.send(protocol.flow_events(flow_id))
            render.reply(answer, settings.as_json, render.events)
            return
        remote.send(protocol.flow_status(flow_id))  # an unknown flow is a 404 now, not a wait
        asyncio.run(print_events(remote, flow_id, settings.as_json))


async def print_events(remote: Remote, flow_id: str, as_json: bool) -> None:
    if not as_json:
        click.echo(render.event_header())
    async for text, event in remote.follow(flow_id):
        click.echo(text if as_json else render.event_line(event))


async def watch(remote: Remote, flow_id: str) -> str:
    """Live progress on stderr (steps ended of steps planned); returns the outcome, in words."""
    columns = (
        SpinnerColumn(),
        TextColumn("flow {task.fields[flow_id]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("steps ended"),
        TimeElapsedColumn(),
    )
    ended: set[str] = set()
    planned = 0
    outcome: Mapping[str, Any] = {}
    with Progress(*columns, console=render.stderr(), transient=True) as progress:
        task = progress.add_task("", total=None, flow_id=flow_id)
        async for _, event in remote.follow(flow_id):
            data: Mapping[str, Any] = event["data"]
            if event["type"] == "flow_started":
                planned = len(data["plan"]["steps"])
                progress.update(task, total=planned)
            elif event["type"] in ENDED_STEP_EVENTS:
                ended.add(data["step_id"])
                progress.update(task, completed=len(ended))
            elif event["type"] in protocol.FLOW_ENDED:
                outcome = event
    status = str(outcome.get("type", "")).removeprefix("flow_")
    error = outcome.get("data", {}).get("error")
    summary = f"flow {flow_id} {status}: {len(ended)} of {planned} steps ended"
    return summary + (f"; {error}" if error else "")
