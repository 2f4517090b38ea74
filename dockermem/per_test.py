"""What the pytest plugin's session sees, test by test: the OOM kills and EMERGENCY that came
while each test ran ("redis was OOM-killed during tests/test_export.py::test_big_export"), and
the leaks seen over the run. Loaded only when the plugin is asked for."""

from __future__ import annotations

import threading
from datetime import datetime

from dockermem.core.events import Event, EventType, Frame
from dockermem.core.session import Observer

TIED_TO_TESTS = frozenset({EventType.OOM, EventType.EMERGENCY})


def describe(event: Event, nodeid: str) -> str:
    """ "redis was OOM-killed during tests/test_export.py::test_big_export"."""
    who = event.service or event.container or "the stack"
    if event.type is EventType.OOM:
        return f"{who} was OOM-killed during {nodeid}"
    return f"{event.message} during {nodeid}"


class TestTracker(Observer):
    """Ties the session's events to the test that was running. The session calls it from its
    own thread (the API's portal), pytest from the main thread: a condition guards both."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._latest_frame_at: datetime | None = None
        self._current: str | None = None
        self._pending: list[Event] = []
        self.by_test: dict[str, list[Event]] = {}
        self.leaks: dict[str, str] = {}

    def frame(self, frame: Frame) -> None:
        with self._lock:
            self._latest_frame_at = frame.ts
            self._lock.notify_all()

    def event(self, event: Event) -> None:
        with self._lock:
            if event.type is EventType.LEAK:
                self.leaks[event.who] = event.message
            if event.type in TIED_TO_TESTS:
                self._pending.append(event)

    def test_started(self, nodeid: str) -> None:
        with self._lock:
            self._pending.clear()  # what came before this test is not its doing
            self._current = nodeid

    def test_ended(self, nodeid: str, ended_at: datetime, timeout_seconds: float) -> list[Event]:
        """The events of the test, once a frame taken after it ended has come (what it caused
        is seen by then), or the timeout has passed."""
        with self._lock:
            self._lock.wait_for(
                lambda: self._latest_frame_at is not None and self._latest_frame_at > ended_at,
                timeout=timeout_seconds,
            )
            events = self.by_test[nodeid] = list(self._pending)
            self._pending.clear()
            self._current = None
            return events

    def lines(self) -> list[str]:
        """Every tied event, as the summary says it."""
        with self._lock:
            return [
                describe(event, nodeid) for nodeid, events in sorted(self.by_test.items()) for event in events
            ]
