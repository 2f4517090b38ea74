"""`dockermem stats`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from dockermem.cli.common import JsonOption, ProjectOption, load_settings_or_exit, run_async
from dockermem.cli.output import print_json, print_line, print_renderable


class StatsFormat(StrEnum):
    table = "table"
    json = "json"
    prometheus = "prometheus"


def stats(
    project: ProjectOption = None,
    json: JsonOption = False,
    output_format: Annotated[
        StatsFormat,
        typer.Option(
            "--format", help="table, json (as --json), or prometheus (node_exporter's textfile format)."
        ),
    ] = StatsFormat.table,
) -> None:
    """Statistics: host memory and CPU, Docker resource counts against their maxima,
    cleanup totals, and the containers above 80 % of their memory limit."""
    from dockermem.core.client import client_for
    from dockermem.core.counters import read_counters
    from dockermem.core.snapshot import begin_snapshot, take_snapshot

    settings = load_settings_or_exit()
    client = client_for(settings)
    start = begin_snapshot(client, settings)
    snapshot = run_async(lambda: take_snapshot(client, settings, project, start=start))
    counters = read_counters(settings.state_path)
    if output_format is StatsFormat.prometheus:
        from dockermem.render.metrics import exposition_text, snapshot_metrics

        print_line(exposition_text(snapshot_metrics(snapshot)).rstrip("\n"))
    elif json or output_format is StatsFormat.json:
        from dockermem.render.documents import stats_document

        print_json(stats_document(snapshot, counters, settings.high_memory_percent))
    else:
        from dockermem.render.tables import build_statistics

        print_renderable(build_statistics(snapshot, counters, settings.high_memory_percent))
