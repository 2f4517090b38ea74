"""`dockermem up`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dockermem.cli.common import (
    ProjectOption,
    check_scales,
    exit_for,
    fail,
    load_settings_or_exit,
    parse_scales,
    report_history_errors,
    run_stoppable,
)
from dockermem.cli.completion import complete_scale
from dockermem.cli.output import print_renderable
from dockermem.cli.preflight import (
    ComposeProfileOption,
    EnvFileOption,
    FileOption,
    MemoryProfileOption,
    ServicesArgument,
)
from dockermem.errors import ExitCode

if TYPE_CHECKING:
    from dockermem.core.lifecycle import StartRequest, UpResult
    from dockermem.core.scaling import ScaleRange
    from dockermem.core.session import Observer


def up(
    services: ServicesArgument = None,
    file: FileOption = None,
    project: ProjectOption = None,
    wait_timeout: Annotated[
        float, typer.Option("--wait-timeout", min=1, help="Seconds to wait for the services to be healthy.")
    ] = 120.0,
    no_preflight: Annotated[
        bool, typer.Option("--no-preflight", help="Start without the preflight.")
    ] = False,
    profile: ComposeProfileOption = None,
    env_file: EnvFileOption = None,
    memory_profile: MemoryProfileOption = None,
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
            autocompletion=complete_scale,
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

    from dockermem.core.client import client_for
    from dockermem.core.lifecycle import run_up

    ranges = parse_scales(scale)
    _check_scaling(ranges, autoscale, duration, no_preflight, memory_profile)
    settings = load_settings_or_exit({"sample_interval_seconds": interval})
    request = _request(file, project, services, wait_timeout, no_preflight, memory_profile, down_on_failure,
                       ranges, compose_profiles=profile, env_files=env_file,
                       build=build, force_recreate=force_recreate, remove_orphans=remove_orphans)  # fmt: skip
    from dockermem.cli.progress import StartProgress
    from dockermem.cli.up_output import ScaledLines, StartReport
    from dockermem.github import GitHubReport

    observers: list[Observer] = [StartReport(), GitHubReport("dockermem up")]
    if settings.history and not no_history:
        from dockermem.core.recorder import HistoryRecorder

        observers.append(HistoryRecorder(settings.history_path, "up"))
    if autoscale:
        observers.append(ScaledLines("Ctrl-C" if duration is None else f"{duration:g}s have passed"))
    with StartProgress(project or _project_hint(request.files), live=sys.stderr.isatty()) as progress:
        result, stop = run_stoppable(
            lambda stop: run_up(client_for(settings), settings, request, observers=[progress, *observers],
                                stop=stop, autoscale=autoscale, duration_seconds=duration)
        )  # fmt: skip
    _report(result, observers)
    exit_for(result.verdict, stop)


def _check_scaling(
    ranges: tuple[ScaleRange, ...],
    autoscale: bool,
    duration: float | None,
    no_preflight: bool,
    profile: str | None,
) -> None:
    if autoscale and not any(not r.fixed for r in ranges):
        raise fail("--autoscale needs a --scale SERVICE=MIN..MAX range to work within", ExitCode.USAGE)
    if duration is not None and not autoscale:
        raise fail("--duration applies to --autoscale only", ExitCode.USAGE)
    if ranges and no_preflight and (autoscale or not all(r.fixed for r in ranges)):
        raise fail("--scale MIN..MAX chooses by the preflight's budget: drop --no-preflight", ExitCode.USAGE)
    if ranges and profile not in (None, "auto"):
        raise fail(
            f"--scale counts replicas at their limits: it cannot be judged by --memory-profile {profile}",
            ExitCode.USAGE,
        )


def _request(
    files: list[Path] | None,
    project: str | None,
    services: list[str] | None,
    wait_timeout: float,
    no_preflight: bool,
    memory_profile: str | None,
    down_on_failure: bool,
    ranges: tuple[ScaleRange, ...],
    *,
    compose_profiles: list[str] | None,
    env_files: list[Path] | None,
    **compose_flags: bool,
) -> StartRequest:
    from dockermem.core.lifecycle import StartRequest

    options = tuple(f"--{name.replace('_', '-')}" for name, on in compose_flags.items() if on)
    return StartRequest(
        files=tuple(files or ()),
        project=project,
        services=tuple(services or ()),
        wait_timeout_seconds=wait_timeout,
        preflight=not no_preflight,
        memory_profile=memory_profile,
        compose_profiles=tuple(compose_profiles or ()),
        env_files=tuple(env_files or ()),
        down_on_failure=down_on_failure,
        compose_options=options,
        scale=ranges,
    )


def _report(result: UpResult, observers: list[Observer]) -> None:
    """After the run: what the autoscaler did, and a history that failed."""
    if result.autoscaler is not None:
        from dockermem.render.scaling import build_autoscale_summary

        autoscaler = result.autoscaler
        print_renderable(
            build_autoscale_summary(autoscaler.changes, autoscaler.replicas, autoscaler.elapsed_seconds)
        )
    report_history_errors(observers)


def _project_hint(files: tuple[Path, ...]) -> str:
    return files[0].stem if files else "the stack"
