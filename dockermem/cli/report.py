"""`dockermem report`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dockermem.cli.common import JsonOption, ProjectOption, fail, load_settings_or_exit
from dockermem.cli.output import print_json, print_renderable
from dockermem.errors import ExitCode, HistoryError


def report(
    since: Annotated[str, typer.Option("--since", help="How far back to look (30m, 2h, 7d, 1w).")] = "7d",
    project: ProjectOption = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the report, with charts, to this self-contained HTML file."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Memory history of past watch and up runs: per service its peak, p95 (from 20 samples), limit,
    OOM kills and advice: a recommended limit (the peak plus 30 %), or "fix the leak" when memory
    was still climbing at the end of the run; with a chart of memory over time. --html says the
    file it wrote (on stderr under --json)."""
    from datetime import timedelta

    from dockermem.cli.startup import collector_on
    from dockermem.clock import current_clock
    from dockermem.core.history import HistoryStore
    from dockermem.units import parse_duration_seconds

    collector_on()  # a report of a long history is work enough for it (it has no event loop)
    try:
        seconds = parse_duration_seconds(since)
    except ValueError as error:
        raise fail(f"--since: {error}", ExitCode.USAGE) from None
    if html is not None:
        from importlib.util import find_spec

        if find_spec("matplotlib") is None:
            raise fail("--html draws its charts with matplotlib, which the html extra installs: "
                       "pip install 'dockermem[html]'", ExitCode.USAGE)  # fmt: skip
    settings = load_settings_or_exit()
    start = current_clock().now() - timedelta(seconds=seconds)
    try:
        with HistoryStore(settings.history_path) as store:
            services = store.service_report(start, project)
            series = store.series(start, project) if html is not None or not json else {}
            marks = store.chart_marks(start, project) if html is not None else {}
    except HistoryError as error:
        raise fail(str(error), error.exit_code) from None
    if html is not None:
        from dockermem.render.report import build_html_report

        try:
            html.write_text(build_html_report(services, series, start, marks), encoding="utf-8")
        except OSError as error:
            raise fail(f"cannot write {html}: {error.strerror}", ExitCode.USAGE) from None
    if json:
        from dockermem.render.report import report_document

        print_json(report_document(services, start))
    else:
        from dockermem.render.report import build_report

        print_renderable(build_report(services, start, series))
    if html is not None:
        print(f"HTML report written to {html}", file=sys.stderr if json else sys.stdout)
