"""`dockermem watch`."""

from __future__ import annotations

import sys
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
from dockermem.cli.output import print_json, print_renderable
from dockermem.cli.preflight import FileOption
from dockermem.errors import ExitCode

if TYPE_CHECKING:
    from dockermem.cli.watch_output import WatchOutput
    from dockermem.config import Settings
    from dockermem.core.scaling import ScaleRange, WatchAutoscale
    from dockermem.docker.client import DockerClient


def _positive(value: float | None) -> float | None:
    if value is not None and not (0 < value < float("inf")):
        raise typer.BadParameter(f"{value:g} must be a number of seconds greater than 0")
    return value


def _autoscaler(
    settings: Settings,
    client: DockerClient,
    files: tuple[Path, ...],
    project: str | None,
    ranges: tuple[ScaleRange, ...],
    output: WatchOutput,
) -> WatchAutoscale:
    """Scaled events go out as watch events (`{"type": "scaled", ...}` with --json)."""
    from dockermem.core.scaling import ScaleEvent, WatchAutoscale
    from dockermem.core.watch import WatchEvent, WatchEventType
    from dockermem.render.scaling import scale_event_document

    def scaled(event: ScaleEvent) -> None:
        document = scale_event_document(event)
        details = {key: document[key] for key in ("service", "from", "to", "reason", "removed")}
        message = f"scaled {event.service} {event.from_replicas} -> {event.to_replicas}: {event.reason}"
        output.event(WatchEvent(WatchEventType.SCALED, event.at, "default", None, message, details))

    def failed(message: str) -> None:
        print(f"dockermem: {message}", file=sys.stderr)

    return WatchAutoscale(client, settings, files, project, ranges, scaled, failed)


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
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line: samples and events.")
    ] = False,
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

    Ctrl-C ends it with each container's peak. With --duration it ends by itself.
    """
    import sys

    from dockermem.cli.watch_output import WatchOutput
    from dockermem.core.watch import Watcher

    ranges = parse_scales(scale)
    if (autoscale or ranges) and not (autoscale and any(not r.fixed for r in ranges)):
        raise fail("--autoscale and --scale SERVICE=MIN..MAX go together", ExitCode.USAGE)
    if autoscale and context:
        raise fail("--autoscale works on the current docker context only", ExitCode.USAGE)
    settings = load_settings_or_exit(
        {"sample_interval_seconds": interval if interval is not None else 1.0, "alert_webhook": alert_webhook}
    )
    names = context or []
    engines = [(name, make_client(settings, context=name)) for name in names] or [
        ("default", make_client(settings))
    ]
    output = WatchOutput(json=json, live=sys.stdout.isatty() and not json, multiple_engines=len(engines) > 1)
    background = []
    if settings.alert_webhook:
        from dockermem.core.alerts import WebhookAlerter

        alerter = WebhookAlerter(settings.alert_webhook, settings.alert_interval_seconds)
        output.observers.append(alerter.offer)
        background.append(alerter.run)
    if metrics_port is not None:
        output.serve_metrics(metrics_address, metrics_port)
    if settings.history and not no_history:
        from dockermem.core.history import HistoryRecorder

        output.recorder = HistoryRecorder(settings.history_path, "watch", project)
    hook = None
    if autoscale:
        hook = _autoscaler(settings, engines[0][1], tuple(file or ()), project, ranges, output)
        background.append(hook.run)
    watcher = Watcher(
        settings, engines, project, output.frame, output.event, background,
        autoscaler=None if hook is None else hook.offer,
    )  # fmt: skip
    with output:
        summary = run_async(lambda: watcher.run(duration))
    if json:
        print_json({"type": "summary", "peaks": [
            {"engine": engine, "container": name, "peak_bytes": peak, "memory_limit_bytes": limit}
            for engine, name, peak, limit in summary.peaks
        ], "oom_seen": summary.oom_seen, "emergency_seen": summary.emergency_seen})  # fmt: skip
    else:
        from dockermem.render.watch import build_watch_summary

        print_renderable(build_watch_summary(summary))
    output.finish(summary)
    if summary.stopped_by_signal is not None:
        import signal

        code = ExitCode.TERMINATED if summary.stopped_by_signal == signal.SIGTERM else ExitCode.INTERRUPTED
        raise fail("interrupted", code)
    if summary.oom_seen or summary.emergency_seen:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))
