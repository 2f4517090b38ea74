"""The history recorder: a session's frames, OOM kills and leaks, recorded as one run for `report`
and for the preflight's recorded peaks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dockermem.core.events import Event, EventType, Frame, SessionSummary
from dockermem.core.history import HistoryStore, RunKind
from dockermem.core.session import Observer, Session
from dockermem.errors import HistoryError


class HistoryRecorder(Observer):
    """Records a session's frames, OOM kills and leaks as one run, its project under the session's
    `recorded_as` name. A database that fails is turned off for the rest of the run (the run
    itself goes on); `error` says why."""

    def __init__(self, path: Path, kind: RunKind) -> None:
        self.path = path
        self.kind = kind
        self.record_as: str | None = None
        self.error: str | None = None
        self._store: HistoryStore | None = None
        self._run_id = 0
        self._project: str | None = None

    def begin(self, session: Session) -> None:
        self._project, self.record_as = session.project, session.recorded_as
        try:
            self._store = HistoryStore(self.path, clock=session.clock)
            self._run_id = self._store.start_run(self.kind, self.record_as)
        except HistoryError as error:
            self._fail(error)

    def frame(self, frame: Frame) -> None:
        if self._store is not None:
            try:
                self._store.record_frame(self._run_id, self._as_recorded(frame))
            except HistoryError as error:
                self._fail(error)

    def event(self, event: Event) -> None:
        if self._store is None or event.type not in (EventType.OOM, EventType.LEAK, EventType.LEAK_CLEARED):
            return
        project = self.record_as if self.record_as and event.project == self._project else event.project
        try:
            if event.type is EventType.LEAK:
                self._store.record_leak(self._run_id, event, project)
            elif event.type is EventType.LEAK_CLEARED:
                self._store.record_leak_cleared(self._run_id, event)
            else:
                details = event.details
                process = details.get("process") or {}
                constraint, usage = details.get("constraint"), details.get("cgroup_usage_bytes")
                # The kernel read the cgroup at the kill: the reading the samples most often miss.
                cgroup = (
                    (usage, details.get("cgroup_limit_bytes")) if constraint == "cgroup" and usage else None
                )
                self._store.record_oom(
                    self._run_id, event.ts, event.engine, project, event.service, event.container or "",
                    process.get("name"), process.get("rss_bytes"), constraint == "host", cgroup,
                )  # fmt: skip
        except HistoryError as error:
            self._fail(error)

    def finish(self, summary: SessionSummary) -> None:
        if self._store is not None:
            try:
                self._store.end_run(self._run_id)
            except HistoryError as error:
                self._fail(error)
            self._store.close()
            self._store = None

    def _as_recorded(self, frame: Frame) -> Frame:
        if self.record_as is None or self.record_as == self._project:
            return frame
        rows = tuple(
            replace(row, project=self.record_as) if row.project == self._project else row
            for row in frame.containers
        )
        return replace(frame, containers=rows)

    def _fail(self, error: HistoryError) -> None:
        self.error = f"history turned off: {error}"
        if self._store is not None:
            self._store.close()
            self._store = None
