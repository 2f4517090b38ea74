"""`up`'s progress display: a live Rich view on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live

    from dockermem.core.history import HistoryRecorder
    from dockermem.core.monitor import MonitorUpdate
    from dockermem.core.snapshot import ResourceSnapshot


class StartProgress:
    """Receives the monitor's updates and shows them; stderr, so stdout keeps the report."""

    def __init__(self, project: str, live: bool) -> None:
        self.project = project
        self._console: Console | None = None
        self.started = time.monotonic()
        self.snapshot: ResourceSnapshot | None = None
        self.recent: list[MonitorUpdate] = []
        self._live: Live | None = None
        self.recorder: HistoryRecorder | None = None
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

    def update(self, update: MonitorUpdate) -> None:
        from dockermem.core.monitor import UpdateKind
        from dockermem.render.lifecycle import progress_line

        if update.kind is UpdateKind.SAMPLE:
            self.snapshot = update.snapshot
            if self.recorder is not None and update.snapshot is not None:
                self.recorder.snapshot(update.snapshot)
        else:
            self.recent = (self.recent + [update])[-20:]
        if self._live is not None:
            self._refresh()
            if update.kind is not UpdateKind.SAMPLE:
                self._live.console.print(progress_line(update, time.monotonic() - self.started) or "")
        else:
            line = progress_line(update, time.monotonic() - self.started)
            if line is not None:
                self.console.print(line)

    def _refresh(self) -> None:
        from dockermem.render.lifecycle import build_progress_view

        assert self._live is not None
        self._live.update(
            build_progress_view(self.project, time.monotonic() - self.started, self.snapshot, self.recent)
        )
