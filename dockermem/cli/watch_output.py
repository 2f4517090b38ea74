"""Where `watch` shows its session: a live view, JSON lines or plain log lines."""

from __future__ import annotations

from collections import deque
from types import TracebackType
from typing import TYPE_CHECKING

from dockermem.cli.output import print_json, print_line, stdout_console
from dockermem.core.session import Observer

if TYPE_CHECKING:
    from rich.live import Live

    from dockermem.core.events import Event, Frame

RECENT_EVENTS_KEPT = 50


class WatchOutput(Observer):
    """Shows the session's frames and events the way the user asked."""

    def __init__(self, json: bool, live: bool, multiple_engines: bool) -> None:
        self.json = json
        self.multiple_engines = multiple_engines
        self.recent: deque[Event] = deque(maxlen=RECENT_EVENTS_KEPT)
        self._live: Live | None = None
        if live:
            from rich.live import Live

            self._live = Live(console=stdout_console(), refresh_per_second=4, screen=False)

    def __enter__(self) -> WatchOutput:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, error, trace)

    def frame(self, frame: Frame) -> None:
        from dockermem.render.watch import build_watch_view, plain_frame_line, sample_document

        if self.json:
            print_json(sample_document(frame))
        elif self._live is not None:
            self._live.update(build_watch_view(frame, self.multiple_engines, self.recent))
        else:
            print_line(plain_frame_line(frame))

    def event(self, event: Event) -> None:
        from dockermem.render.watch import event_document

        self.recent.append(event)
        if self.json:
            print_json(event_document(event))
        elif self._live is None:
            print_line(f"{event.ts:%H:%M:%S} {event.type.value}: {event.message}")
