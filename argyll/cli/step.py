"""``argyll step ls|get|apply|rm``: the engine's catalog of steps."""

from __future__ import annotations

import json
from typing import IO, Any

import click

from argyll.cli import render
from argyll.cli.options import Settings, pass_settings, shared_options
from argyll.cli.remote import Answer, Refused, Remote
from argyll.client import protocol


@click.group()
@shared_options
def step() -> None:
    """List, show, register or update, and remove steps."""


@step.command("ls")
@shared_options
@pass_settings
def list_steps(settings: Settings) -> None:
    """Every registered step, with its inputs and outputs."""
    render.fetched(settings, protocol.list_steps(), lambda data: render.steps(data["steps"]))


@step.command("get")
@click.argument("step_id", metavar="ID")
@shared_options
@pass_settings
def get_step(settings: Settings, step_id: str) -> None:
    """One step's definition."""
    render.fetched(settings, protocol.get_step(step_id), render.step)


@step.command("apply")
@click.option(
    "-f",
    "--file",
    "source",
    type=click.File("rb"),
    metavar="FILE",
    required=True,
    help="a JSON file holding one step definition or a list of them ('-': stdin)",
)
@shared_options
@pass_settings
def apply_step(settings: Settings, source: IO[bytes]) -> None:
    """Register each step in FILE, or update it if a different one has its id.

    Steps are applied in order; the first one refused stops the rest (exit 1).
    With -o json, each reply is printed on its own line.
    """
    definitions = read_definitions(source)
    with settings.remote() as remote:
        for definition in definitions:
            answer = apply_one(remote, definition)
            render.reply(answer, settings.as_json, render.message)


@step.command("rm")
@click.argument("step_id", metavar="ID")
@shared_options
@pass_settings
def remove_step(settings: Settings, step_id: str) -> None:
    """Unregister a step (flows already started keep their plan)."""
    render.fetched(settings, protocol.unregister_step(step_id), render.message)


def read_definitions(source: IO[bytes]) -> list[dict[str, Any]]:
    """The step definitions of a JSON file: one object, or a list of objects."""
    name = getattr(source, "name", "-")
    try:
        data = json.loads(source.read())
    except ValueError as error:
        raise click.BadParameter(f"{name} is not JSON: {error}", param_hint="-f") from None
    definitions = data if isinstance(data, list) else [data]
    if not definitions or not all(isinstance(item, dict) for item in definitions):
        message = f"{name} must hold a step definition (a JSON object) or a list of them"
        raise click.BadParameter(message, param_hint="-f")
    return definitions


def apply_one(remote: Remote, definition: dict[str, Any]) -> Answer:
    """POST the step; when another definition holds its id (409), PUT this one instead."""
    try:
        return remote.send(protocol.submit_step(definition))
    except Refused as refused:
        if refused.status != 409:
            raise
    return remote.send(protocol.update_step(str(definition["id"]), definition))
