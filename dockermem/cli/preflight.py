"""`dockermem preflight`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from dockermem.cli.common import JsonOption, ProjectOption, VerboseOption, load_settings_or_exit, run_async
from dockermem.cli.completion import complete_service
from dockermem.cli.output import print_json, print_renderable
from dockermem.errors import ExitCode

# Compose's rule for service names; a name that could pass for an option is refused.
SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")


def _check_services(values: list[str] | None) -> list[str] | None:
    for value in values or []:
        if not SERVICE_NAME.match(value):
            raise typer.BadParameter(f"{value!r} is not a compose service name")
    return values


ServicesArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help="Only these services and what they depend on, as compose starts them (default: all).",
        callback=_check_services,
        autocompletion=complete_service,
    ),
]
FileOption = Annotated[
    list[Path] | None, typer.Option("--file", "-f", help="Compose file (repeatable, as with docker compose).")
]
ComposeProfileOption = Annotated[
    list[str] | None,
    typer.Option("--profile", help="Enable a compose profile (repeatable), as with docker compose."),
]
EnvFileOption = Annotated[
    list[Path] | None,
    typer.Option("--env-file", help="An env file for compose (repeatable), as with docker compose."),
]
MemoryProfileOption = Annotated[
    str | None,
    typer.Option(
        "--memory-profile",
        help="A named memory budget the stack must fit within (minimal, standard, full, performance).",
    ),
]


def preflight(
    services: ServicesArgument = None,
    file: FileOption = None,
    project: ProjectOption = None,
    profile: ComposeProfileOption = None,
    env_file: EnvFileOption = None,
    memory_profile: MemoryProfileOption = None,
    json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Check that a compose stack fits in the memory there is, before it starts: all of it, or
    the services named and what they depend on (what `up SERVICE...` starts).

    Exits 0 on PASS, 1 on FAIL, 2 when the compose file is invalid or names no such service.
    """
    from dockermem.core.client import client_for
    from dockermem.core.preflight import run_preflight

    settings = load_settings_or_exit()
    client = client_for(settings)
    result = run_async(
        lambda: run_preflight(client, settings, file or [], project, memory_profile,
                              compose_profiles=profile or (), env_files=env_file or (),
                              services=services or ())
    )  # fmt: skip
    if json:
        from dockermem.render.documents import preflight_document

        print_json(preflight_document(result))
    else:
        from dockermem.render.preflight import build_preflight_report

        print_renderable(build_preflight_report(result))
    if not result.ok:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))
