"""What the commands share: options, the one stderr console, and the error-to-exit mapping."""

from __future__ import annotations

import re
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from dockermem.cli.completion import complete_project
from dockermem.errors import ConfigError, DockermemError, ExitCode

if TYPE_CHECKING:
    from dockermem.config import Settings
    from dockermem.core.concurrency import Stop
    from dockermem.core.scaling import ScaleRange
    from dockermem.core.session import Observer, Verdict

T = TypeVar("T")

# Compose's own rule for project names; anything else is refused before it reaches an argv.
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def check_project_name(value: str | None) -> str | None:
    """Refuse a project name that compose would refuse (and that could pass as an option)."""
    if value is not None and not PROJECT_NAME.match(value):
        raise typer.BadParameter(
            f"{value!r} is not a compose project name (lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit)"
        )
    return value


ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        help="Only this compose project.",
        callback=check_project_name,
        autocompletion=complete_project,
    ),
]


class _Output:
    """Whether the command was asked for JSON (its error, too, is then a JSON object), and for
    the whole of what compose said when it failed (--verbose)."""

    json = False
    verbose = False
    error_printed = False


def _json_asked(value: bool) -> bool:
    _Output.json = value
    return value


def _verbose_asked(value: bool) -> bool:
    _Output.verbose = value
    return value


VerboseOption = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="When compose fails, print all it said.", callback=_verbose_asked),
]


JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Print one JSON object (schema 1) instead of a report.", callback=_json_asked
    ),
]

# watch's --json: lines, not one document; its refusals are a JSON error all the same.
JsonLinesOption = Annotated[
    bool,
    typer.Option("--json", help="One JSON object per line: samples and events.", callback=_json_asked),
]


def parse_scales(values: list[str] | None) -> tuple[ScaleRange, ...]:
    """The `--scale SERVICE=MIN..MAX` options (already checked by `check_scales`)."""
    if not values:
        return ()  # without --scale, the scaling module is not loaded at all
    from dockermem.core.scaling import parse_scale

    return tuple(parse_scale(value) for value in values)


def check_scales(values: list[str] | None) -> list[str] | None:
    """Refuse a malformed or repeated `--scale` before anything runs."""
    if not values:
        return values
    from dockermem.core.scaling import check_unique

    try:
        check_unique(list(parse_scales(values)))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return values


def fail(message: str, code: ExitCode) -> typer.Exit:
    """Print one line to stderr (and, under --json, the error as a JSON object on stdout, so
    that a program reading stdout meets no empty string) and give the exit to raise."""
    print(f"dockermem: {message}", file=sys.stderr)
    if _Output.json:
        print_json_error(message, int(code))
    return typer.Exit(int(code))


def print_json_error(message: str, code: int) -> None:
    """`{"schema": 1, "ok": false, "error": ..., "exit_code": ...}` on stdout, once."""
    import json

    print(json.dumps({"schema": 1, "ok": False, "error": message, "exit_code": code}))
    _Output.error_printed = True


def json_error_printed() -> bool:
    return _Output.error_printed


def run_stoppable(main: Callable[[Stop], Awaitable[T]]) -> tuple[T, Stop]:
    """Run a command's async body, which Ctrl-C or SIGTERM asks to stop (it ends what it is
    doing, and reports); with its `Stop`, which says whether a signal came and which."""
    from dockermem.core.concurrency import Stop, listening_for_signals

    stop = Stop()

    async def stoppable() -> T:
        async with listening_for_signals(stop):
            return await main(stop)

    return run_async(stoppable), stop


def exit_for(verdict: Verdict, stop: Stop | None = None) -> None:
    """The one mapping of how a run ended to its exit code: nothing for OK, else the exit."""
    from dockermem.core.session import Verdict

    if verdict is Verdict.INTERRUPTED:
        # The run's own document (watch's summary) is already out: one line on stderr only.
        signal_number = None if stop is None else stop.signal_number
        print("dockermem: interrupted", file=sys.stderr)
        raise typer.Exit(int(ExitCode.for_signal(signal_number)))
    if verdict is Verdict.ENGINE_LOST:
        raise typer.Exit(int(ExitCode.DOCKER_UNAVAILABLE))
    if verdict is Verdict.FAILED:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))


def report_history_errors(observers: Sequence[Observer]) -> None:
    """Say once, on stderr, when the history was turned off during the run (the run went on)."""
    from dockermem.core.recorder import HistoryRecorder

    for observer in observers:
        if isinstance(observer, HistoryRecorder) and observer.error:
            print(f"dockermem: {observer.error}", file=sys.stderr)


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    """Run a command's async body; turn dockermem's errors into one line and an exit code."""
    import anyio

    from dockermem.cli.startup import collector_on

    collector_on()
    try:
        return anyio.run(main)
    except BaseExceptionGroup as group:
        # Task groups wrap what their tasks raised: report the first of dockermem's own.
        error = _first_leaf(group)
        if isinstance(error, DockermemError):
            raise _failed(error) from None
        if isinstance(error, KeyboardInterrupt):
            raise fail("interrupted", ExitCode.INTERRUPTED) from None
        raise
    except DockermemError as error:
        raise _failed(error) from None
    except KeyboardInterrupt:
        raise fail("interrupted", ExitCode.INTERRUPTED) from None


def _failed(error: DockermemError) -> typer.Exit:
    """One of dockermem's errors as one line (and, with --verbose, all compose said after it)."""
    exit_ = fail(str(error), error.exit_code)
    output = getattr(error, "output", "")
    if _Output.verbose and output:
        print(output.rstrip("\n"), file=sys.stderr)
    return exit_


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception in a (nested) group that is dockermem's own, else the first of all."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        current = pending.pop(0)
        if isinstance(current, BaseExceptionGroup):
            pending[:0] = list(current.exceptions)
        else:
            leaves.append(current)
    return next((leaf for leaf in leaves if isinstance(leaf, DockermemError)), leaves[0])


def load_settings_or_exit(flags: Mapping[str, object] | None = None) -> Settings:
    """Settings, or exit 2 with the bad value named."""
    from dockermem.config import load_settings

    try:
        return load_settings(flags)
    except ConfigError as error:
        raise fail(str(error), error.exit_code) from None
