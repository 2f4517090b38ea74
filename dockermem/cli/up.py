"""`dockermem up`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dockermem.cli.common import (
    ProjectOption,
    check_scales,
    fail,
    load_settings_or_exit,
    make_client,
    parse_scales,
    run_async,
)
from dockermem.cli.output import print_renderable
from dockermem.cli.preflight import FileOption, ProfileOption
from dockermem.errors import ExitCode

if TYPE_CHECKING:
    from dockermem.config import Settings
    from dockermem.core.lifecycle import StartOutcome, StartRequest
    from dockermem.docker.client import DockerClient

# Compose's rule for service names; a name that could pass for an option is refused.
SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")


def _check_services(values: list[str] | None) -> list[str] | None:
    for value in values or []:
        if not SERVICE_NAME.match(value):
            raise typer.BadParameter(f"{value!r} is not a compose service name")
    return values


def up(
    services: Annotated[
        list[str] | None, typer.Argument(help="Only these services (default: all).", callback=_check_services)
    ] = None,
    file: FileOption = None,
    project: ProjectOption = None,
    wait_timeout: Annotated[
        float, typer.Option("--wait-timeout", min=1, help="Seconds to wait for the services to be healthy.")
    ] = 120.0,
    no_preflight: Annotated[
        bool, typer.Option("--no-preflight", help="Start without the preflight.")
    ] = False,
    profile: ProfileOption = None,
    down_on_failure: Annotated[
        bool, typer.Option("--down-on-failure", help="Bring the stack down when it fails to start.")
    ] = False,
    no_history: Annotated[
        bool, typer.Option("--no-history", help="Do not record samples for `report`.")
    ] = False,
    interval: Annotated[
        float | None, typer.Option("--interval", help="Seconds between memory samples (default 2).")
    ] = None,
    build: Annotated[bool, typer.Option("--build", help="Passed to compose: build images first.")] = False,
    force_recreate: Annotated[bool, typer.Option("--force-recreate", help="Passed to compose.")] = False,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans", help="Passed to compose.")] = False,
    scale: Annotated[
        list[str] | None,
        typer.Option(
            "--scale",
            metavar="SERVICE=MIN..MAX",
            help="Run as many replicas as fit the preflight budget, within MIN..MAX (or SERVICE=N). "
            "Repeatable.",
            callback=check_scales,
        ),
    ] = None,
    autoscale: Annotated[
        bool,
        typer.Option(
            "--autoscale",
            help="With --scale: stay in the foreground and scale down at CRITICAL, back up after a calm "
            "period at SAFE, until Ctrl-C or --duration.",
        ),
    ] = False,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=0.1, help="With --autoscale: stop after this many seconds."),
    ] = None,
) -> None:
    """Preflight, then `docker compose up -d --wait` with memory monitored beside it.

    Warns at CRITICAL (75 %), cleans up stale resources of the project at EMERGENCY (90 %),
    prints the memory report when every service is healthy, and explains a failed start:
    which services, their health checks, their memory, OOM kills. Exits 1 when the start fails.
    """
    import sys
    from datetime import UTC, datetime

    from dockermem.core.lifecycle import StartRequest, start_stack

    ranges = parse_scales(scale)
    if autoscale and not any(not r.fixed for r in ranges):
        raise fail("--autoscale needs a --scale SERVICE=MIN..MAX range to work within", ExitCode.USAGE)
    if duration is not None and not autoscale:
        raise fail("--duration applies to --autoscale only", ExitCode.USAGE)
    if ranges and no_preflight and (autoscale or not all(r.fixed for r in ranges)):
        raise fail("--scale MIN..MAX chooses by the preflight's budget: drop --no-preflight", ExitCode.USAGE)
    if ranges and profile not in (None, "auto"):
        raise fail(f"--scale counts replicas at their limits: it cannot be judged by --profile {profile}",
                   ExitCode.USAGE)  # fmt: skip
    settings = load_settings_or_exit({"sample_interval_seconds": interval})
    client = make_client(settings)
    options = [flag for flag, on in (("--build", build), ("--force-recreate", force_recreate),
               ("--remove-orphans", remove_orphans)) if on]  # fmt: skip
    request = StartRequest(
        files=tuple(file or ()),
        project=project,
        services=tuple(services or ()),
        wait_timeout_seconds=wait_timeout,
        preflight=not no_preflight,
        profile=profile,
        down_on_failure=down_on_failure,
        compose_options=tuple(options),
        scale=ranges,
    )
    from dockermem.cli.progress import StartProgress

    recorder = None
    if settings.history and not no_history:
        from dockermem.core.history import HistoryRecorder

        recorder = HistoryRecorder(settings.history_path, "up", project)
    with StartProgress(project or _project_hint(request.files), live=sys.stderr.isatty()) as progress:
        progress.recorder = recorder
        outcome = run_async(lambda: start_stack(client, settings, request, progress.update))
    if recorder is not None:
        for kill in outcome.ooms:
            recorder.oom(kill.at or datetime.now(UTC), "default", outcome.project, kill.service, kill.name)
        recorder.close()
        if recorder.error:
            print(f"dockermem: {recorder.error}", file=sys.stderr)
    if outcome.preflight is not None and not outcome.preflight.ok:
        from dockermem.render.preflight import build_preflight_report

        print_renderable(build_preflight_report(outcome.preflight))
    if outcome.scale_plan is not None:
        from dockermem.render.scaling import build_scale_report

        print_renderable(build_scale_report(outcome.scale_plan))
    from dockermem.render.lifecycle import build_start_report

    print_renderable(build_start_report(outcome))
    _report_to_github(outcome)
    if outcome.interrupted_by is not None:
        import signal

        code = ExitCode.TERMINATED if outcome.interrupted_by == signal.SIGTERM else ExitCode.INTERRUPTED
        raise fail("interrupted", code)
    if outcome.engine_error is not None:
        raise typer.Exit(int(ExitCode.DOCKER_UNAVAILABLE))
    if not outcome.ok:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))
    if autoscale:
        _keep_scaling(
            client, settings, request, outcome, duration, recorder_on=settings.history and not no_history
        )


def _keep_scaling(
    client: DockerClient,
    settings: Settings,
    request: StartRequest,
    started: StartOutcome,
    duration: float | None,
    recorder_on: bool,
) -> None:
    """`up --autoscale` after a good start: scaled events on stdout, progress on stderr."""
    import signal
    import sys

    from dockermem.cli.output import print_line
    from dockermem.cli.progress import StartProgress
    from dockermem.core.lifecycle import keep_scaling
    from dockermem.render.scaling import build_autoscale_summary, scale_event_line

    until = "Ctrl-C" if duration is None else f"{duration:g}s have passed"
    print_line(f"autoscaling {started.project} until {until}")
    recorder = None
    if recorder_on:
        from dockermem.core.history import HistoryRecorder

        recorder = HistoryRecorder(settings.history_path, "up", started.project)
    with StartProgress(started.project, live=False) as progress:
        progress.recorder = recorder
        outcome = run_async(
            lambda: keep_scaling(
                client, settings, request, started, progress.update,
                lambda event: print_line(scale_event_line(event)), duration,
            )
        )  # fmt: skip
    if recorder is not None:
        recorder.close()
        if recorder.error:
            print(f"dockermem: {recorder.error}", file=sys.stderr)
    print_renderable(build_autoscale_summary(outcome))
    if outcome.interrupted_by is not None:
        code = ExitCode.TERMINATED if outcome.interrupted_by == signal.SIGTERM else ExitCode.INTERRUPTED
        raise fail("interrupted", code)


def _project_hint(files: tuple[Path, ...]) -> str:
    return files[0].stem if files else "the stack"


def _report_to_github(outcome: StartOutcome) -> None:
    from dockermem.cli.github import append_step_summary, in_github_actions, print_annotation

    if not in_github_actions():
        return
    from dockermem.render.github import start_summary_markdown

    append_step_summary(start_summary_markdown(outcome))
    for kill in outcome.ooms:
        print_annotation(f"::error title=dockermem OOM::{kill.describe()}", to_stderr=False)
    if not outcome.ok and outcome.memory_verdict:
        print_annotation(f"::error title=dockermem up::{outcome.memory_verdict}", to_stderr=False)
