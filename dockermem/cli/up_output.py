"""`up`'s report on stdout: printed by observers of the session, as the start ends and as the
autoscaler changes a count. (Its progress, on stderr, is `cli/progress.py`.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockermem.cli.output import print_line, print_renderable
from dockermem.core.events import EventType
from dockermem.core.session import Observer

if TYPE_CHECKING:
    from dockermem.core.events import Event
    from dockermem.core.lifecycle import StartOutcome


class StartReport(Observer):
    """The start's report, printed the moment the start is done (before `--autoscale` keeps the
    stack): the preflight's verdict (in full when it refused the start), the replica counts chosen, then
    the memory report or the analysis of the failure."""

    def started(self, outcome: StartOutcome) -> None:
        from dockermem.render.lifecycle import build_start_report

        if outcome.preflight is not None:
            from dockermem.render.preflight import build_preflight_report, preflight_line

            if outcome.preflight_failed:
                print_renderable(build_preflight_report(outcome.preflight))
            else:
                print_renderable(preflight_line(outcome.preflight))
        if outcome.scale_plan is not None:
            from dockermem.render.scaling import build_scale_report

            print_renderable(build_scale_report(outcome.scale_plan))
        print_renderable(build_start_report(outcome))


class ScaledLines(Observer):
    """`up --autoscale`: each change of a replica count, as a line on stdout."""

    def __init__(self, until: str) -> None:
        self.until = until

    def started(self, outcome: StartOutcome) -> None:
        if outcome.ok:
            print_line(f"autoscaling {outcome.project} until {self.until}")

    def event(self, event: Event) -> None:
        if event.type is EventType.SCALED:
            print_line(f"{event.ts:%H:%M:%S} {event.message}")
