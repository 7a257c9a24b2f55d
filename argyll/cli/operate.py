"""``argyll flow cancel|pause|resume|retry|explain`` and ``flow step complete|skip``.

Each command is one call of the engine's operating API; it prints the engine's
``message`` (``-o json``: its reply, ``{message, flow_id, status}``). A refusal
(an unknown flow or step, a flow in the wrong status, outputs that do not match
the step's) exits 1 with the engine's detail, like every client command.
``--reason`` is recorded with the actor in the event the call appends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click

from argyll.cli import render
from argyll.cli.flow import json_object
from argyll.cli.options import Settings, pass_settings, shared_options
from argyll.client import protocol
from argyll.client.protocol import Call
from argyll.model import FlowStatus

flow_id_argument = click.argument("flow_id", metavar="ID")
reason_option = click.option(
    "--reason", metavar="TEXT", help="why, recorded in the flow's events with who did it"
)


def _action(
    name: str, summary: str, more: str, call: Callable[[str, str | None], Call[FlowStatus]]
) -> click.Command:
    """A command ``NAME ID [--reason TEXT]`` that sends ``call(ID, reason)``."""

    @click.command(name, short_help=summary, help=f"{summary}\n\n{more}")
    @flow_id_argument
    @reason_option
    @shared_options
    @pass_settings
    def command(settings: Settings, flow_id: str, reason: str | None) -> None:
        render.fetched(settings, call(flow_id, reason), render.message)

    return command


cancel = _action(
    "cancel",
    "Cancel a flow that has not ended.",
    "Nothing more starts, running scripts stop, and the steps that had not ended are "
    "skipped; HTTP work already sent is recorded when it answers, and starts nothing.",
    protocol.cancel_flow,
)
pause = _action(
    "pause",
    "Pause an active flow.",
    "Nothing new starts (no step, no work item, no due retry) until it is resumed; "
    "work already running finishes and is recorded.",
    protocol.pause_flow,
)
resume = _action(
    "resume",
    "Resume a paused flow.",
    "The flow carries on from exactly where it stood.",
    protocol.resume_flow,
)


def parse_completions(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """``--complete STEP=JSON|@FILE``, repeatable: each step's outputs."""
    completions: dict[str, dict[str, Any]] = {}
    for value in values:
        step_id, sign, outputs = value.partition("=")
        if not sign or not step_id:
            raise click.BadParameter(f"expected STEP=JSON or STEP=@FILE, got {value!r}")
        completions[step_id] = json_object(outputs)
    return completions


def parse_outputs(ctx: click.Context, param: click.Parameter, value: str) -> dict[str, Any]:
    return json_object(value)


@click.command("retry")
@flow_id_argument
@click.option(
    "--step",
    "steps",
    multiple=True,
    metavar="STEP",
    help="run this step again (repeatable; default: the failed steps, or the unended ones "
    "of a canceled flow)",
)
@click.option(
    "--complete",
    multiple=True,
    metavar="STEP=JSON|@FILE",
    callback=parse_completions,
    help="first complete STEP by hand with these outputs (repeatable)",
)
@click.option(
    "--skip", "skips", multiple=True, metavar="STEP", help="first skip STEP by hand (repeatable)"
)
@reason_option
@shared_options
@pass_settings
def retry(
    settings: Settings,
    flow_id: str,
    steps: tuple[str, ...],
    complete: dict[str, dict[str, Any]],
    skips: tuple[str, ...],
    reason: str | None,
) -> None:
    """Run a failed or canceled flow again from where it stopped.

    Completed steps never run again; the failed ones (or each --step) and the
    steps that ended because of them go back to pending.
    """
    call = protocol.retry_flow(flow_id, steps, complete, skips, reason)
    render.fetched(settings, call, render.message)


@click.command("explain")
@flow_id_argument
@shared_options
@pass_settings
def explain(settings: Settings, flow_id: str) -> None:
    """Why each step of the flow's plan is where it is, in plain words."""
    with settings.remote() as remote:
        answer = remote.send(protocol.explain_flow(flow_id))
        if settings.as_json:
            render.print_json(answer.body)
            return
        state = remote.send(protocol.get_flow(flow_id)).data
    render.show(*render.explanation(answer.data, step_names(state)))


def step_names(state: Mapping[str, Any]) -> dict[str, str]:
    """Each planned step's name, by id (what the plain words call a provider)."""
    planned = state["plan"]["steps"]
    return {step_id: step.get("name") or step_id for step_id, step in planned.items()}


@click.group("step")
@shared_options
def step() -> None:
    """Resolve a step of a flow by hand: complete it with outputs, or skip it."""


@step.command("complete")
@flow_id_argument
@click.argument("step_id", metavar="STEP")
@click.option(
    "--outputs",
    required=True,
    metavar="JSON|@FILE",
    callback=parse_outputs,
    help="the step's outputs: a JSON object, or @FILE holding one (@- reads stdin)",
)
@reason_option
@shared_options
@pass_settings
def complete_step(
    settings: Settings, flow_id: str, step_id: str, outputs: dict[str, Any], reason: str | None
) -> None:
    """Complete STEP by hand; the flow goes on as if the step had given OUTPUTS."""
    call = protocol.complete_step(flow_id, step_id, outputs, reason)
    render.fetched(settings, call, render.message)


@step.command("skip")
@flow_id_argument
@click.argument("step_id", metavar="STEP")
@reason_option
@shared_options
@pass_settings
def skip_step(settings: Settings, flow_id: str, step_id: str, reason: str | None) -> None:
    """Skip STEP by hand; steps that needed its outputs are skipped in turn."""
    render.fetched(settings, protocol.skip_step(flow_id, step_id, reason), render.message)


COMMANDS: tuple[click.Command, ...] = (cancel, pause, resume, retry, explain, step)
"""The commands this module adds to ``argyll flow``."""
