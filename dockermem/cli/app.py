"""The dockermem command: wires the subcommands together."""

from __future__ import annotations

import typer

from dockermem.cli.cleanup import cleanup
from dockermem.cli.fit import fit
from dockermem.cli.health import health
from dockermem.cli.preflight import preflight
from dockermem.cli.report import report
from dockermem.cli.stats import stats
from dockermem.cli.up import up
from dockermem.cli.watch import watch

app = typer.Typer(
    name="dockermem",
    help="Memory safety for docker compose test stacks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rendering it with rich costs more than the 200 ms a --help may take.
    rich_markup_mode=None,
)
app.command()(preflight)
app.command()(up)
app.command()(watch)
app.command()(health)
app.command()(stats)
app.command()(cleanup)
app.command()(report)
app.command()(fit)


def main() -> None:
    """Entry point of the `dockermem` script."""
    app()
