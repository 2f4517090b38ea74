"""What the pytest plugin's session sees of the test suite, test by test: the OOM kills and
EMERGENCY that came while each test ran ("redis was OOM-killed during
tests/test_export.py::test_big_export"), and the leaks seen over the run. Under pytest-xdist,
which test each worker was running when a kill came, what each worker process held, and the
beacon by which workers wait for the controller's next frame. Loaded only when the plugin is
asked for."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil

from dockermem.core.events import Event, EventType, Frame, SessionSummary, WatchedContainer
from dockermem.core.fit import WORKER_SERVICE
from dockermem.core.history import HistoryStore
from dockermem.core.session import Observer, Session
from dockermem.core.thresholds import ThresholdLevel
from dockermem.errors import HistoryError
from dockermem.units import name_order

TIED_TO_TESTS = frozenset({EventType.OOM, EventType.EMERGENCY})
BEACON_FILE = "frame"


def describe(event: Event, nodeid: str) -> str:
    """ "redis was OOM-killed during tests/test_export.py::test_big_export"."""
    who = event.service or event.container or "the stack"
    if event.type is EventType.OOM:
        return f"{who} was OOM-killed during {nodeid}"
    return f"{event.message} during {nodeid}"


class TestTracker(Observer):
    """Ties the session's events to the test that was running, in one process. The session
    calls it from its own thread (the API's portal), pytest from the main thread: a condition
    guards both."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._latest_frame_at: datetime | None = None
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
            elif event.type is EventType.LEAK_CLEARED:
                self.leaks.pop(event.who, None)
            if event.type in TIED_TO_TESTS:
                self._pending.append(event)

    def test_started(self, nodeid: str) -> None:
        with self._lock:
            self._pending.clear()  # what came before this test is not its doing

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
            return events

    def lines(self) -> list[str]:
        """Every tied event, as the summary says it."""
        with self._lock:
            return [
                describe(event, nodeid) for nodeid, events in sorted(self.by_test.items()) for event in events
            ]


# --- pytest-xdist ----------------------------------------------------------------------


@dataclass(frozen=True)
class RunningTest:
    """A test a worker runs: when its call began (its setup done) and, once it has run, when
    its teardown ended; by the wall clock (seconds since the epoch)."""

    worker: str
    nodeid: str
    started: float
    stopped: float | None = None


@dataclass(frozen=True)
class Blame:
    """A kill (or EMERGENCY) during a parallel run: the test it is laid on, and the others
    running at that moment."""

    event: Event
    blamed: RunningTest
    beside: tuple[RunningTest, ...]

    def describe(self) -> str:
        """`worker was OOM-killed while gw1 ran t.py::test_a (gw0 ran t.py::test_b)`."""
        who = self.event.service or self.event.container or "the stack"
        what = f"{who} was OOM-killed" if self.event.type is EventType.OOM else self.event.message
        text = f"{what} while {self.blamed.worker} ran {self.blamed.nodeid}"
        if self.beside:
            text += " (" + ", ".join(f"{test.worker} ran {test.nodeid}" for test in self.beside) + ")"
        return text


class WorkerTimeline(Observer):
    """Which test each xdist worker runs, from the reports the workers send the controller,
    and the kills laid on them. The rule: a kill names every test running at that moment
    (and one that ended within the last interval, the time a kill takes to be seen), and is
    laid on the one whose call began last (a test that had run a while without one is the less
    likely cause). That test's report carries it when it comes after the kill was seen;
    otherwise the run fails at its end with it."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self._lock = threading.Lock()
        self._running: dict[str, RunningTest] = {}
        self._finished: dict[str, RunningTest] = {}  # each worker's last test
        self.blames: list[Blame] = []
        self._carried: set[int] = set()
        self.leaks: dict[str, str] = {}

    def setup_reported(self, worker: str, nodeid: str, started: float) -> None:
        with self._lock:
            self._running[worker] = RunningTest(worker, nodeid, started)

    def teardown_reported(self, worker: str, nodeid: str, stopped: float) -> None:
        with self._lock:
            test = self._running.pop(worker, None)
            if test is not None and test.nodeid == nodeid:
                self._finished[worker] = RunningTest(worker, nodeid, test.started, stopped)

    def event(self, event: Event) -> None:
        with self._lock:
            if event.type is EventType.LEAK:
                self.leaks[event.who] = event.message
            elif event.type is EventType.LEAK_CLEARED:
                self.leaks.pop(event.who, None)
            if event.type not in TIED_TO_TESTS:
                return
            at = event.ts.timestamp()
            running = [test for test in self._running.values() if test.started <= at]
            running += [
                test
                for test in self._finished.values()
                if test.stopped is not None and test.started <= at <= test.stopped + self.interval_seconds
            ]
            if running:
                blamed = max(running, key=lambda test: test.started)
                beside = tuple(
                    sorted((t for t in running if t is not blamed), key=lambda t: name_order(t.worker))
                )
                self.blames.append(Blame(event, blamed, beside))

    def carried_by(self, nodeid: str) -> list[Blame]:
        """The kills laid on a test whose call report is in, not carried by a report yet."""
        with self._lock:
            found = [
                b for i, b in enumerate(self.blames) if b.blamed.nodeid == nodeid and i not in self._carried
            ]
            self._carried.update(i for i, b in enumerate(self.blames) if b.blamed.nodeid == nodeid)
            return found

    def uncarried(self) -> list[Blame]:
        """The kills no report carried (their test had reported before they were seen)."""
        with self._lock:
            return [b for i, b in enumerate(self.blames) if i not in self._carried]


class FrameBeacon(Observer):
    """Tells the xdist workers when the controller's session took its latest frame (a file
    they read): after a test, a worker waits for a frame taken after it ended, so that what the
    test caused is seen before its report goes out."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / BEACON_FILE

    def frame(self, frame: Frame) -> None:
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(repr(frame.ts.timestamp()))
        os.replace(temporary, self.path)


def wait_for_frame_after(directory: Path, ended_at: float, timeout_seconds: float) -> bool:
    """In a worker: until the controller's latest frame was taken after `ended_at` (wall
    seconds), or the timeout; whether it came."""
    deadline = time.monotonic() + timeout_seconds
    path = directory / BEACON_FILE
    while True:
        try:
            if float(path.read_text()) > ended_at:
                return True
        except (OSError, ValueError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


class WorkerMemory(Observer):
    """The memory of each xdist worker's process tree (RSS), sampled at each frame beside the
    stack's, and recorded in the history as the suite's `pytest-worker`: the next `-n auto`
    (and `fit --per-worker auto`) sizes its workers by it. Each worker writes its PID into
    `<directory>/<worker>.pid`."""

    def __init__(self, directory: Path, history: Path | None) -> None:
        self.directory = directory
        self.history = history
        self.project: str | None = None  # the name the suite's stack is recorded under
        self.peaks: dict[str, int] = {}
        self._store: HistoryStore | None = None
        self._run_id = 0
        self.error: str | None = None

    def begin(self, session: Session) -> None:
        self.project = session.recorded_as
        if self.history is None:
            return
        try:
            self._store = HistoryStore(self.history, clock=session.clock)
            self._run_id = self._store.start_run("up", self.project)
        except HistoryError as error:
            self._fail(error)

    def frame(self, frame: Frame) -> None:
        rows = []
        for worker, rss in self.sample().items():
            self.peaks[worker] = max(self.peaks.get(worker, 0), rss)
            rows.append(self._row(worker, rss))
        if self._store is not None and rows:
            try:
                self._store.record_frame(self._run_id, Frame(frame.ts, frame.elapsed_seconds, frame.host,
                                                             frame.host_level, (), tuple(rows)))  # fmt: skip
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

    def sample(self) -> dict[str, int]:
        """Each worker's process tree's RSS now (a worker that has gone is left out)."""
        found: dict[str, int] = {}
        for pid_file in self.directory.glob("*.pid"):
            try:
                process = psutil.Process(int(pid_file.read_text()))
                tree = [process, *process.children(recursive=True)]
                found[pid_file.stem] = sum(_rss(member) for member in tree)
            except (OSError, ValueError, psutil.Error):
                continue
        return found

    def _row(self, worker: str, rss: int) -> WatchedContainer:
        return WatchedContainer(
            id=f"pytest-{worker}", name=worker, project=self.project, service=WORKER_SERVICE,
            memory_usage_bytes=rss, memory_limit_bytes=None, memory_percent=None, cpu_percent=None,
            level=ThresholdLevel.SAFE, engine="pytest", trend_mib_per_minute=None, seconds_to_limit=None,
            leaking=False, recent_usage=(rss,), peak_bytes=self.peaks.get(worker, rss), oom_kills=0,
        )  # fmt: skip

    def _fail(self, error: HistoryError) -> None:
        self.error = f"history of the workers' memory turned off: {error}"
        if self._store is not None:
            self._store.close()
            self._store = None


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0
