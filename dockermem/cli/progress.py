"""`up`'s progress: a live Rich view on a terminal, plain lines otherwise; on stderr, so that
stdout keeps the report."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from dockermem.core.session import Observer, Session

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live

    from dockermem.core.events import Event, Frame
    from dockermem.core.lifecycle import StartOutcome


class StartProgress(Observer):
    """Shows the session's frames and events while compose starts the stack (and after, while
    `--autoscale` keeps it)."""

    def __init__(self, project: str, live: bool) -> None:
        self.project = project
        self.frame_shown: Frame | None = None
        self.states: dict[str, str] = {}  # each container's state as its events tell it
        self._last_frame_line: str | None = None
        self._session: Session | None = None
        self._console: Console | None = None
        self._live: Live | None = None
        if live:
            from rich.live import Live

            self._live = Live(console=self.console, refresh_per_second=4, transient=True)

    @property
    def console(self) -> Console:
        """The stderr console, made on first use: without a live view, rich loads only once
        there is something to print (compose is already starting by then)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
        return self._console

    def __enter__(self) -> StartProgress:
        if self._live is not None:
            self._live.__enter__()
            self._refresh()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, error, trace)

    def begin(self, session: Session) -> None:
        self._session = session
        self.project = session.project or self.project

    def started(self, outcome: StartOutcome) -> None:
        # The start is done: its report follows, and what comes after (--autoscale) is plain lines.
        if self._live is not None:
            self._live.stop()
            self._live = None

    def frame(self, frame: Frame) -> None:
        from dockermem.render.lifecycle import progress_line

        self.frame_shown = frame
        if self._live is not None:
            self._refresh()
        elif frame.containers:
            line = progress_line(frame, self._elapsed)
            if line.plain != self._last_frame_line:  # the session's last look, as the look before
                self.console.print(line)
                self._last_frame_line = line.plain

    def event(self, event: Event) -> None:
        from dockermem.render.lifecycle import progress_line, starting_states

        self.states.update(starting_states([event]))
        if self._live is not None:
            self._refresh()
            self._live.console.print(progress_line(event, self._elapsed))
        else:
            self.console.print(progress_line(event, self._elapsed))

    @property
    def _elapsed(self) -> float:
        return 0.0 if self._session is None else self._session.elapsed_seconds

    def _refresh(self) -> None:
        from dockermem.render.lifecycle import build_progress_view

        assert self._live is not None
        self._live.update(build_progress_view(self.project, self._elapsed, self.frame_shown, self.states))
