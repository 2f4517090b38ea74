"""`dockermem watch`."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Annotated

import typer

from dockermem.cli.common import (
    JsonLinesOption,
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
from dockermem.cli.output import print_json, print_renderable
from dockermem.cli.preflight import FileOption
from dockermem.errors import ExitCode

if TYPE_CHECKING:
    from dockermem.config import Settings
    from dockermem.core.concurrency import Stop
    from dockermem.core.events import SessionSummary
    from dockermem.core.session import Observer


def _positive(value: float | None) -> float | None:
    if value is not None and not (0 < value < float("inf")):
        raise typer.BadParameter(f"{value:g} must be a number of seconds greater than 0")
    return value


def watch(
    project: ProjectOption = None,
    file: FileOption = None,
    interval: Annotated[
        float | None,
        typer.Option("--interval", help="Seconds between samples (default 1).", callback=_positive),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            help="Stop after this many seconds; exit 1 if an OOM kill or EMERGENCY was seen.",
            callback=_positive,
        ),
    ] = None,
    json: JsonLinesOption = False,
    context: Annotated[
        list[str] | None, typer.Option("--context", help="Watch this docker context (repeatable).")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", min=1, max=65535, help="Serve Prometheus metrics on this port."),
    ] = None,
    metrics_address: Annotated[
        str, typer.Option("--metrics-address", help="Address of the metrics endpoint.")
    ] = "127.0.0.1",
    no_history: Annotated[
        bool, typer.Option("--no-history", help="Do not record samples for `report`.")
    ] = False,
    scale: Annotated[
        list[str] | None,
        typer.Option(
            "--scale",
            metavar="SERVICE=MIN..MAX",
            help="With --autoscale: the replica range of a service of the stack (repeatable).",
            callback=check_scales,
            autocompletion=complete_scale,
        ),
    ] = None,
    autoscale: Annotated[
        bool,
        typer.Option(
            "--autoscale",
            help="Scale the --scale services down at CRITICAL and back up after a calm period at SAFE "
            "(needs -f and the compose project's files).",
        ),
    ] = False,
    alert_webhook: Annotated[
        str | None,
        typer.Option(
            "--alert-webhook",
            help="Slack-compatible webhook for EMERGENCY, OOM and leak alerts.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Live memory of every container: usage against limit, trend, leak prediction, OOM kills.

    In a terminal: q quits (with each container's peak), s sorts, / filters, the arrows and
    PgUp/PgDn scroll, Enter shows a container's detail. Ctrl-C interrupts it (exit 130). With
    --duration it ends by itself.
    """
    import sys

    from dockermem.cli.watch_keys import keys_available
    from dockermem.cli.watch_output import WatchOutput
    from dockermem.core.client import client_for
    from dockermem.core.session import Session, session_verdict, watch_for

    ranges = parse_scales(scale)
    if (autoscale or ranges) and not (autoscale and any(not r.fixed for r in ranges)):
        raise fail("--autoscale and --scale SERVICE=MIN..MAX go together", ExitCode.USAGE)
    if autoscale and context:
        raise fail("--autoscale works on the current docker context only", ExitCode.USAGE)
    settings = load_settings_or_exit(
        {"sample_interval_seconds": interval if interval is not None else 1.0, "alert_webhook": alert_webhook}
    )
    engines = [(name, client_for(settings, name)) for name in context or []] or [
        ("default", client_for(settings))
    ]
    live = sys.stdout.isatty() and not json
    output = WatchOutput(json, live, multiple_engines=len(engines) > 1, keys=live and keys_available())
    observers = [output, *_observers(settings, json, metrics_port, metrics_address, no_history)]
    if autoscale:
        from dockermem.core.autoscale import Autoscaler

        observers.append(Autoscaler(settings, tuple(file or ()), project, ranges))

    session = Session(settings, engines, project=project, observers=observers)

    def watching(stop: Stop) -> Awaitable[SessionSummary]:
        output.quit = stop.request  # q: the watch ends as at the end of --duration
        return watch_for(session, duration, stop)

    with output:
        summary, stop = run_stoppable(watching)
    if json:
        from dockermem.render.watch import summary_document

        print_json(summary_document(summary))
    else:
        from dockermem.render.watch import build_watch_summary

        print_renderable(build_watch_summary(summary))
    report_history_errors(observers)
    exit_for(session_verdict(summary, stop), stop)


def _observers(
    settings: Settings, json: bool, metrics_port: int | None, metrics_address: str, no_history: bool
) -> list[Observer]:
    """What hangs off the watch besides its display: alerts, metrics, history, GitHub's summary."""
    from dockermem.github import GitHubReport

    observers: list[Observer] = [GitHubReport("dockermem watch", annotations_to_stderr=json)]
    if settings.alert_webhook:
        from dockermem.core.alerts import WebhookAlerter

        observers.append(WebhookAlerter(settings.alert_webhook, settings.alert_interval_seconds))
    if metrics_port is not None:
        from dockermem.cli.metrics import MetricsEndpoint

        observers.append(MetricsEndpoint(metrics_address, metrics_port))
    if settings.history and not no_history:
        from dockermem.core.recorder import HistoryRecorder

        observers.append(HistoryRecorder(settings.history_path, "watch"))
    return observers
