"""`dockermem cleanup`."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Annotated

import typer

from dockermem.cli.common import (
    JsonOption,
    ProjectOption,
    fail,
    load_settings_or_exit,
    run_async,
)
from dockermem.cli.output import print_json, print_renderable
from dockermem.errors import ExitCode


def _duration(value: str | None) -> float | None:
    from dockermem.units import parse_duration_seconds

    if value is None:
        return None
    try:
        return parse_duration_seconds(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def _command_to_remove(
    program_name: str | None, project: str | None, glob: str | None, older_than: str | None, volumes: bool
) -> str:
    """The command that removes what a dry run showed, on the same engine: as it was run
    (`dockermem` or `docker mem`), with the engine the environment chose named."""
    engine = [
        f"{name}={os.environ[name]}" for name in ("DOCKER_CONTEXT", "DOCKER_HOST") if os.environ.get(name)
    ]
    program = shlex.split(program_name or "dockermem")
    scope = ["-p", project] if project else ["--all-projects", glob or ""]
    options = [*(["--older-than", older_than] if older_than else []), *(["--volumes"] if volumes else [])]
    command = shlex.join([*program, "cleanup", *scope, *options, "--yes"])
    return " ".join([*(shlex.quote(setting) for setting in engine), command])


def cleanup(
    context: typer.Context,
    project: ProjectOption = None,
    all_projects: Annotated[
        str | None, typer.Option("--all-projects", help="Every compose project whose name matches this glob.")
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Only what was made at least this long ago (30m, 2h, 7d)."),
    ] = None,
    volumes: Annotated[
        bool, typer.Option("--volumes", help="Remove the projects' named volumes too.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would go; change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before removing.")] = False,
    json: JsonOption = False,
) -> None:
    """Remove stale test resources: stopped containers of the compose projects in scope, then
    their networks, then anonymous (and with --volumes, named) volumes.

    Never a running container, never anything outside the scope or made after the sweep began.
    """
    from datetime import timedelta

    from dockermem.clock import current_clock
    from dockermem.core.cleanup import CleanupScope, apply_cleanup, plan_cleanup
    from dockermem.core.client import client_for
    from dockermem.core.counters import add_to_counters

    if (project is None) == (all_projects is None):
        raise fail("give exactly one scope: -p PROJECT or --all-projects GLOB", ExitCode.USAGE)
    seconds = _duration(older_than)
    settings = load_settings_or_exit()
    client = client_for(settings)
    scope = CleanupScope(project=project, project_glob=all_projects)
    started_at = current_clock().now()
    plan = run_async(
        lambda: plan_cleanup(
            client,
            scope,
            started_at,
            older_than=None if seconds is None else timedelta(seconds=seconds),
            named_volumes=volumes,
            with_sizes=True,
        )
    )
    if not json:
        from dockermem.render.cleanup import build_cleanup_plan

        rerun = _command_to_remove(context.find_root().info_name, project, all_projects, older_than, volumes)
        print_renderable(build_cleanup_plan(plan, dry_run, rerun))
    outcome = None
    if not dry_run:
        if not yes and not plan.empty:
            if not sys.stdin.isatty():
                raise fail("not on a terminal: pass --yes to remove, or --dry-run to look", ExitCode.USAGE)
            if not typer.confirm("Remove these?", default=False, err=True):
                raise fail("nothing removed", ExitCode.CHECK_FAILED)
        outcome = run_async(lambda: apply_cleanup(client, plan))
        add_to_counters(settings.state_path, outcome.counters)
    if json:
        from dockermem.render.documents import cleanup_document

        print_json(cleanup_document(plan, outcome, dry_run))
    elif outcome is not None:
        from dockermem.render.cleanup import build_cleanup_outcome

        print_renderable(build_cleanup_outcome(outcome))
