"""Where `watch` shows its session: a live view (with keys when stdin is a terminal), JSON lines
or plain log lines."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from types import TracebackType
from typing import TYPE_CHECKING

from dockermem.cli.output import print_json, print_line, stdout_console
from dockermem.core.session import Observer, Session
from dockermem.render.watch_state import Keypress, Screen, ViewState, press

if TYPE_CHECKING:
    from rich.live import Live

    from dockermem.core.events import Event, Frame

RECENT_EVENTS_KEPT = 200


class WatchOutput(Observer):
    """Shows the session's frames and events the way the user asked. With `keys`, the live view
    fills the terminal's screen and takes keys (q, s, /, arrows, Enter): `quit` is called on q."""

    def __init__(self, json: bool, live: bool, multiple_engines: bool, keys: bool = False) -> None:
        self.json = json
        self.multiple_engines = multiple_engines
        self.keys = keys and live and not json
        self.recent: deque[Event] = deque(maxlen=RECENT_EVENTS_KEPT)
        self.state = ViewState()
        self.quit: Callable[[], None] = lambda: None
        self._frame: Frame | None = None
        self._screen = Screen((), 1)
        self._window_seconds: float | None = None
        self._legend: str | None = None
        self._live: Live | None = None
        self._terminal = ExitStack()
        if live:
            from rich.live import Live

            self._live = Live(console=stdout_console(), auto_refresh=False, screen=self.keys)

    def __enter__(self) -> WatchOutput:
        # The terminal is taken at `begin`, once the engines answered: an error before that
        # (an engine that does not answer) is printed on the terminal as it was, and stays.
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._terminal.__exit__(kind, error, trace)

    def begin(self, session: Session) -> None:
        if self.keys:
            from dockermem.cli.watch_keys import cbreak_terminal

            self._terminal.enter_context(cbreak_terminal())
        if self._live is not None:
            self._terminal.enter_context(self._live)
        self._window_seconds = session.settings.leak_window_seconds
        from dockermem.core.thresholds import Thresholds

        self._legend = Thresholds.from_settings(session.settings).short_legend(
            session.settings.high_memory_percent
        )

    async def run(self, session: Session) -> None:
        if not self.keys:
            return
        from dockermem.cli.watch_keys import key_presses

        async for batch in key_presses():
            for key in batch:
                self.take(key)

    def take(self, key: Keypress) -> None:
        """One key press: the view's new state, shown at once."""
        self.state = press(self.state, key, self._screen)
        if self.state.quit:
            self.quit()
        else:
            self._show()

    def frame(self, frame: Frame) -> None:
        from dockermem.render.watch import plain_frame_line, sample_document

        self._frame = frame
        if self.json:
            print_json(sample_document(frame))
        elif self._live is not None:
            self._show()
        else:
            print_line(plain_frame_line(frame))

    def event(self, event: Event) -> None:
        from dockermem.render.watch import event_document

        self.recent.append(event)
        if self.json:
            print_json(event_document(event))
        elif self._live is None:
            print_line(f"{event.ts:%H:%M:%S} {event.type.value}: {event.message}")

    def _show(self) -> None:
        from dockermem.render.watch import ViewSettings, build_watch_view

        if self._live is None or self._frame is None:
            return
        size = self._live.console.size
        # Without the screen of its own, the view keeps a line spare so that the terminal never scrolls.
        height = size.height if self.keys else size.height - 1
        settings = ViewSettings(
            size.width, height, self.keys, self.multiple_engines, self._window_seconds, self._legend
        )
        view = build_watch_view(self._frame, self.state, self.recent, settings)
        self._screen = view.screen
        self._live.update(view.renderable, refresh=True)
