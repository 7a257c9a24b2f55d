"""The ``argyll`` command: ``serve`` runs an engine; every other command operates a running one.

The client commands (``step``, ``plan``, ``flow``, ``health``) speak REST to the
engine at ``--url`` and print tables or, with ``-o json``, the API's own JSON;
``archive read`` reads the files ``serve --archive`` wrote, with no engine. Their
exit codes are ``remote.ExitCode``. Built on click (commands, options, usage errors
with exit code 2) and rich (tables, JSON, live progress). ``serve``
is loaded only when it is run, so the client commands start without the engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from argyll import __version__
from argyll.cli.archive import archive
from argyll.cli.flow import flow, plan
from argyll.cli.health import health
from argyll.cli.operate import COMMANDS as OPERATE_COMMANDS
from argyll.cli.options import shared_options
from argyll.cli.remote import CommandError, ExitCode
from argyll.cli.step import step
from argyll.cli.token import token

SERVE = "serve"


class ArgyllGroup(click.Group):
    """The root group: imports ``serve`` (and so the engine) only when asked; Ctrl-C exits 130."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), SERVE])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == SERVE:
            from argyll.cli.serve import serve

            return serve
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise CommandError("interrupted", ExitCode.INTERRUPTED) from None


@click.group(cls=ArgyllGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "-V", "--version", prog_name="argyll", message="%(prog)s %(version)s"
)
@shared_options
def cli() -> None:
    """Argyll, a goal-driven orchestrator: serve an engine, or operate a running one.

    \b
    Exit codes: 0 ok; 1 the engine refused the request (its detail is printed);
    2 usage error; 3 the engine could not be reached; 4 a flow waited for failed,
    or the engine is not healthy; 130 interrupted.
    """


cli.add_command(step)
cli.add_command(plan)
for command in OPERATE_COMMANDS:
    flow.add_command(command)
cli.add_command(flow)
cli.add_command(health)
cli.add_command(token)
cli.add_command(archive)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (``argv``, default ``sys.argv[1:]``) and exit with its code."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="argyll")


__all__ = ["ExitCode", "cli", "main"]
