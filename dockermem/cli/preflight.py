"""`dockermem preflight`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dockermem.cli.common import JsonOption, ProjectOption, load_settings_or_exit, run_async
from dockermem.cli.output import print_json, print_renderable
from dockermem.errors import ExitCode

FileOption = Annotated[
    list[Path] | None, typer.Option("--file", "-f", help="Compose file (repeatable, as with docker compose).")
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile", help="Judge by a named memory profile (minimal, standard, full, performance) or 'auto'."
    ),
]


def preflight(
    file: FileOption = None,
    project: ProjectOption = None,
    profile: ProfileOption = None,
    json: JsonOption = False,
) -> None:
    """Check that a compose stack fits in the memory there is, before it starts.

    Exits 0 on PASS, 1 on FAIL, 2 when the compose file is invalid.
    """
    from dockermem.core.client import client_for
    from dockermem.core.preflight import run_preflight

    settings = load_settings_or_exit()
    client = client_for(settings)
    result = run_async(lambda: run_preflight(client, settings, file or [], project, profile))
    if json:
        from dockermem.render.documents import preflight_document

        print_json(preflight_document(result))
    else:
        from dockermem.render.preflight import build_preflight_report

        print_renderable(build_preflight_report(result))
    if not result.ok:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))
