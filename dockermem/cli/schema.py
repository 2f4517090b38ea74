"""`dockermem schema`."""

from __future__ import annotations

from typing import Annotated

import typer

from dockermem.cli.common import fail
from dockermem.cli.output import print_line
from dockermem.errors import ExitCode


def schema(
    name: Annotated[str | None, typer.Argument(help="The document: a command's, watch-*, or error.")] = None,
    list_names: Annotated[bool, typer.Option("--list", help="Print the schemas' names, one a line.")] = False,
) -> None:
    """Print the JSON Schema (draft 2020-12) of a `--json` document: health, stats, preflight,
    cleanup, fit, report, error (what any command prints under --json when it fails), and
    watch-sample, watch-event, watch-summary (the line types of `watch --json`).
    """
    from dockermem.schemas import UnknownSchemaError, schema_names, schema_text

    if list_names:
        for each in schema_names():
            print_line(each)
        return
    if name is None:
        raise fail(f"name a schema (one of: {', '.join(schema_names())})", ExitCode.USAGE)
    try:
        print_line(schema_text(name).rstrip("\n"))
    except UnknownSchemaError as error:
        raise fail(str(error), ExitCode.USAGE) from None
