"""`dockermem health`."""

from __future__ import annotations

from dockermem.cli.common import JsonOption, ProjectOption, load_settings_or_exit, run_async
from dockermem.cli.output import print_json, print_renderable
from dockermem.errors import ExitCode


def health(project: ProjectOption = None, json: JsonOption = False) -> None:
    """Report host, engine and container memory with threshold levels, and the OOM kills the
    kernel's log still holds of the containers listed (which process, how big).

    Exits 1 when anything is CRITICAL (75 %) or worse, so that a CI step can gate on it.
    """
    import typer

    from dockermem.core.client import client_for
    from dockermem.core.snapshot import begin_snapshot, take_snapshot
    from dockermem.core.thresholds import ThresholdLevel

    settings = load_settings_or_exit()
    client = client_for(settings)
    start = begin_snapshot(client, settings)
    snapshot = run_async(lambda: take_snapshot(client, settings, project, post_mortem=True, start=start))
    if json:
        from dockermem.render.documents import health_document

        print_json(health_document(snapshot))
    else:
        from dockermem.render.tables import build_health_report

        print_renderable(build_health_report(snapshot, settings.high_memory_percent))
    if snapshot.worst_level >= ThresholdLevel.CRITICAL:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))
