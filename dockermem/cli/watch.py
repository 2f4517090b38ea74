"""`dockermem watch`."""

from __future__ import annotations

from typing import Annotated

import typer

from dockermem.cli.common import ProjectOption, fail, load_settings_or_exit, make_client, run_async
from dockermem.cli.output import print_json, print_renderable
from dockermem.errors import ExitCode


def _positive(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise typer.BadParameter(f"{value:g} must be greater than 0")
    return value


def watch(
    project: ProjectOption = None,
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
    watcher = Watcher(settings, engines, project, output.frame, output.event, background)
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
