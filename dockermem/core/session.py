"""The monitoring session behind every door: `up`, `watch`, `dockermem.stack()` and the pytest
plugin each open one and differ only in the observers they plug in and how they show it.

A session runs one feed per engine (`core/feed.py`), and at every tick gives the readings to the
judge (`core/judge.py`), which answers with one frame and the events of the one vocabulary
(`core/events.py`). Observers get every frame and event: the history recorder, the webhook
alerter, the emergency cleanup, the autoscaler, metrics, GitHub's step summary and the doors'
own displays. An observer that has work of its own (posting an alert, scaling) does it in
`run`, beside the session, never in its tick. When the session ends it takes one last frame
(so even a run shorter than one interval is recorded) and tells each observer the summary.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from dockermem.background import unwrapped_errors
from dockermem.clock import Clock, current_clock
from dockermem.config import Settings
from dockermem.core.concurrency import Stop
from dockermem.core.engine_cache import cached_engine_info, is_local_engine
from dockermem.core.events import Event, EventType, Frame, SessionSummary
from dockermem.core.feed import FULL_READ_EVERY, EngineFeed
from dockermem.core.host import HostCpu, read_host_memory
from dockermem.core.judge import Judge, JudgeRules, Moment
from dockermem.core.oom import SAME_KILL_SECONDS
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ContainerEvent, ContainerState, EngineInfo
from dockermem.errors import DockermemError
from dockermem.kernel.kmsg import KernelLog

if TYPE_CHECKING:
    from dockermem.core.lifecycle import StartOutcome

# The first tick waits this long at most for every engine's first listing.
FIRST_LISTING_SECONDS = 15.0
# When a session ends, its last look (a fresh listing, then one frame) takes at most this long.
LAST_LOOK_SECONDS = 5.0
MAX_KEPT_EVENTS = 500


class Observer:
    """Something plugged into a session. Every hook does nothing unless a subclass says otherwise."""

    def begin(self, session: Session) -> None:
        """The session has started (before its first frame)."""

    def frame(self, frame: Frame) -> None:
        """One tick's frame."""

    def event(self, event: Event) -> None:
        """One event, as it happens."""

    async def run(self, session: Session) -> None:
        """Work of the observer's own, beside the session, until it is cancelled."""

    def started(self, outcome: StartOutcome) -> None:
        """The stack the session watches has started, or failed to (`up`, `stack()`)."""

    def finish(self, summary: SessionSummary) -> None:
        """The session has ended."""


class Verdict(Enum):
    """How a run ended, for an exit code (the CLI) or an error (the Python API)."""

    OK = "ok"
    FAILED = "failed"  # memory ran out (OOM kill, EMERGENCY), the stack did not start or did not fit
    ENGINE_LOST = "engine-lost"
    INTERRUPTED = "interrupted"


def session_verdict(summary: SessionSummary, stop: Stop | None) -> Verdict:
    """A watch's verdict: interrupted, or failed when memory ran out, else OK."""
    if stop is not None and stop.signal_number is not None:
        return Verdict.INTERRUPTED
    return Verdict.FAILED if summary.oom_seen or summary.emergency_seen else Verdict.OK


class Session:
    """One monitoring session over one or more engines (one compose project's containers, or
    every container). It runs while a block runs: `async with Session(...).running():`."""

    def __init__(
        self,
        settings: Settings,
        engines: Sequence[tuple[str, DockerClient]],
        *,
        project: str | None = None,
        observers: Sequence[Observer] = (),
        clock: Clock | None = None,
        interval_seconds: float | None = None,
        recorded_as: str | None = None,
        kernel_log: KernelLog | None = None,
    ) -> None:
        self.settings = settings
        self.engines = tuple(engines)
        self.project = project
        # The name the history keeps the project's runs under: a dedicated test stack runs under
        # a name of its own each time (`shop-3f9a1c2e`) and is recorded as the stack it is
        # (`shop`), so that `report`, the preflight and -n auto learn from every run of it.
        self.recorded_as = recorded_as or project
        self.clock = clock or current_clock()
        self.interval_seconds = interval_seconds or settings.sample_interval_seconds
        # The cgroup's OOM counter is read every FULL_READ_EVERY ticks: a kill it shows may come
        # that long after docker's event of it, and is still the same kill.
        same_kill = max(SAME_KILL_SECONDS, (FULL_READ_EVERY + 1) * self.interval_seconds)
        self.judge = Judge(JudgeRules.from_settings(settings, same_kill))
        self.latest_frame: Frame | None = None
        self.events: deque[Event] = deque(maxlen=MAX_KEPT_EVENTS)
        self._observers: list[Observer] = list(observers)
        self._engine_listeners: list[Callable[[ContainerEvent], None]] = []
        self._feeds: list[EngineFeed] = []
        self._tasks: anyio.abc.TaskGroup | None = None
        self._started_at = 0.0
        self._host_cpu = HostCpu()
        self._started_wall = self.clock.now()
        self._ticked: anyio.Event | None = None
        # The kernel's OOM kills (by default settings.kernel_log, when the engines are local).
        self._kernel_log = kernel_log

    @property
    def client(self) -> DockerClient:
        """The first engine's client (the only one, but for a watch of several contexts)."""
        return self.engines[0][1]

    @property
    def started_wall(self) -> datetime:
        """When the session began, on the wall clock."""
        return self._started_wall

    @property
    def elapsed_seconds(self) -> float:
        return self.clock.monotonic() - self._started_at

    @property
    def summary(self) -> SessionSummary:
        judge = self.judge
        return SessionSummary(
            self.elapsed_seconds, judge.peak_list, judge.oom_seen, judge.emergency_seen, tuple(self.events)
        )

    def attach(self, observer: Observer) -> None:
        """Plug in one more observer; in a running session it begins at once."""
        self._observers.append(observer)
        if self._tasks is not None:
            observer.begin(self)
            self._tasks.start_soon(observer.run, self)

    def detach(self, observer: Observer) -> None:
        """Unplug an observer (it is told nothing more, and no finish)."""
        if observer in self._observers:
            self._observers.remove(observer)

    def follow_engine_events(self, listener: Callable[[ContainerEvent], None]) -> None:
        """Also give the engine's own container events, as docker words them, to `listener`
        (`up`'s readiness rule is compose's, and compose's rule is stated in them)."""
        self._engine_listeners.append(listener)

    def tell_started(self, outcome: StartOutcome) -> None:
        """Tell every observer how the start went."""
        for observer in list(self._observers):
            observer.started(outcome)

    def emit(self, event: Event) -> None:
        """Tell every observer of an event (the judge's, or an observer's own: scaled, cleanup)."""
        self.events.append(event)
        for observer in list(self._observers):
            observer.event(event)

    async def catch_up(self) -> Frame:
        """Catch up with the engines at once: the container events of the session so far (those
        a stream has not brought yet are judged now; the judge tells each once), a fresh
        listing, and a frame with every cgroup file read. Gives that frame."""
        for feed in self._feeds:
            try:
                events = await feed.client.events.between(
                    self._started_wall, self.clock.now(), project=self.project
                )
                await feed.refresh()
            except DockermemError:
                continue  # an engine that went away: what is known stands
            for event in events:
                self.engine_event(feed.name, event)
        return self._tick(full=True)

    def settle(self, states: Sequence[ContainerState]) -> None:
        """Take in the containers' states as `docker inspect` gives them at the end of a start
        (a kill only `OOMKilled` shows is told as an OOM event now)."""
        self._emit_all(self.judge.settle(self._moment(), self.engines[0][0], states, self._started_wall))

    async def next_frame(self) -> Frame:
        """The next frame the session takes."""
        if self._ticked is None:
            self._ticked = anyio.Event()
        await self._ticked.wait()
        assert self.latest_frame is not None
        return self.latest_frame

    async def wait(self, duration_seconds: float | None, stop: Stop | None = None) -> None:
        """Let the session run for the duration (None: until stopped), or until `stop` is asked."""
        with anyio.move_on_after(math.inf if duration_seconds is None else duration_seconds):
            if stop is None:
                await anyio.sleep_forever()
            else:
                await stop.wait()

    # The feed's sink: what the feeds see, as they see it

    def engine_event(self, engine: str, event: ContainerEvent) -> None:
        for listener in list(self._engine_listeners):
            listener(event)
        moment = self._moment()
        if event.action in ("oom", "die"):
            # The kernel logged the kill before the engine told of it: read first, so that the
            # kill is told with its process, and a death with its cause.
            self._emit_all(self._kernel_kills(moment))
        self._emit_all(self.judge.engine_event(moment, engine, event))
        if self.judge.waits_for_counter(engine, event.container_id):
            # An `oom` event of a kill counted before, told late, or of a new one: the
            # container's counter, read now, says.
            feed = next((feed for feed in self._feeds if feed.name == engine), None)
            count = None if feed is None else feed.oom_kills_now(event.container_id)
            log_read = self._kernel_log is not None and self._kernel_log.readable
            self._emit_all(
                self.judge.counter_now(moment, engine, event.container_id, count, kernel_log_read=log_read)
            )

    def _kernel_kills(self, moment: Moment) -> list[Event]:
        if self._kernel_log is None or not self._kernel_log.readable:
            return []
        return self.judge.kernel_kills(moment, self._kernel_log.read_kills())

    def engine_down(self, engine: str, message: str) -> None:
        self._emit_all(self.judge.engine_down(self._moment(), engine, message))

    def engine_back(self, engine: str) -> None:
        self.judge.engine_back(engine)

    def stream_restarted(self, engine: str, stream: str) -> None:
        self._emit_all(self.judge.stream_restarted(self._moment(), engine, stream))

    # Running

    @asynccontextmanager
    async def running(self, *, fresh_engine_info: bool = True) -> AsyncIterator[Session]:
        """Run the session while the block runs; at its end, one last frame and the summary.
        An engine that does not answer at the start is an error (the caller's exit 69); one
        that stops answering later is an event, and the session carries on."""
        since = self._started_wall = self.clock.now()
        infos: list[tuple[str, EngineInfo]] = []
        for name, client in self.engines:
            info = await (
                client.system.info() if fresh_engine_info else cached_engine_info(client, self.settings)
            )
            infos.append((name, info))
            feed = EngineFeed(name, client, self.settings, self.project, since, self, self.clock)
            feed.memory_total_bytes = info.memory_total_bytes
            self._feeds.append(feed)
        self._started_at = self.clock.monotonic()
        self._host_cpu.start()
        notices = self._open_kernel_log(infos)
        try:
            with unwrapped_errors():
                async with anyio.create_task_group() as tasks:
                    self._tasks = tasks
                    for feed in self._feeds:
                        tasks.start_soon(feed.run)
                    for observer in list(self._observers):
                        observer.begin(self)
                        tasks.start_soon(observer.run, self)
                    for notice in notices:
                        self.emit(Event(EventType.NOTICE, self.clock.now(), "", None, notice))
                    tasks.start_soon(self._keep_ticking)
                    try:
                        yield self
                    finally:
                        with anyio.CancelScope(shield=True):
                            await self._last_look()
                        tasks.cancel_scope.cancel()
        finally:
            self._tasks = None
            if self._kernel_log is not None:
                self._kernel_log.close()
            self._finish_observers()

    def _open_kernel_log(self, engines: Sequence[tuple[str, EngineInfo]]) -> list[str]:
        """Follow the kernel log from now on, where the settings name one and an engine runs
        on this machine. Gives what the session cannot see, to be said once."""
        if self._kernel_log is None and self.settings.kernel_log:
            self._kernel_log = KernelLog(Path(self.settings.kernel_log), self.clock)
        log = self._kernel_log
        remote = [name for name, client in self.engines if not is_local_engine(client)]
        notices = []
        if log is not None and len(remote) < len(self.engines):
            log.open()
            if log.notice is not None:
                notices.append(log.notice)
        if log is not None and remote:
            notices.append(
                f"engine {remote[0]} runs on another machine: its kernel's log is not read here, and its "
                "OOM kills are seen by its events and the cgroup counters only"
            )
        unseen = [name for name, info in engines if not info.sends_oom_events]
        if unseen and (log is None or not log.readable):
            notices.append(
                f"engine {unseen[0]} sends no OOM events (Podman) and the kernel's log is not read: a "
                "container OOM-killed at its start may go unseen"
            )
        return notices

    def _finish_observers(self) -> None:
        """Tell each observer the summary; one that fails does not keep the others from it."""
        summary = self.summary
        failures: list[Exception] = []
        for observer in list(self._observers):
            try:
                observer.finish(summary)
            except Exception as failure:  # each observer finishes; the first failure is raised after
                failures.append(failure)
        if failures:
            raise failures[0]

    async def _keep_ticking(self) -> None:
        with anyio.move_on_after(FIRST_LISTING_SECONDS):
            for feed in self._feeds:
                await feed.listed_once.wait()
        while True:
            started = self.clock.monotonic()
            self._tick()
            await anyio.sleep(max(0.0, self.interval_seconds - (self.clock.monotonic() - started)))

    async def _last_look(self) -> None:
        """A fresh listing (a container started since the last one is seen), then a frame."""
        with anyio.move_on_after(LAST_LOOK_SECONDS):
            for feed in self._feeds:
                try:
                    await feed.refresh()
                except DockermemError:
                    pass  # the engine went away: the last frame shows what was last listed
        self._tick(full=True)

    def _tick(self, *, full: bool = False) -> Frame:
        moment = self._moment()
        host = read_host_memory(self._host_cpu.busy_percent())
        readings = [feed.read(moment.clock, full=full) for feed in self._feeds]
        # The kernel's account first: a kill the counters show too is then told with its process.
        self._emit_all(self._kernel_kills(moment))
        frame, events = self.judge.tick(moment, moment.clock - self._started_at, host, readings)
        self._emit_all(events)
        self.latest_frame = frame
        for observer in list(self._observers):
            observer.frame(frame)
        if self._ticked is not None:
            self._ticked.set()
        self._ticked = anyio.Event()
        return frame

    def _emit_all(self, events: Sequence[Event]) -> None:
        for event in events:
            self.emit(event)

    def _moment(self) -> Moment:
        return Moment(self.clock.monotonic(), self.clock.now())


async def watch_for(
    session: Session, duration_seconds: float | None, stop: Stop | None = None
) -> SessionSummary:
    """`watch`: run the session for the duration (None: until stopped), and give its summary."""
    async with session.running():
        await session.wait(duration_seconds, stop)
    return session.summary
