"""The judge: turns what a session reads (each tick's memory readings, the engine's container
events) into frames and events of the one vocabulary (`core/events.py`). Pure: no docker, no
clock of its own (every call says when it is), so recorded outputs replay through it exactly.

Per container it keeps a small state machine (`ContainerJudge`): its level, the 80 % warning
with its recovery margin, EMERGENCY once per episode, the leak fit, and its OOM count. For the
host and each engine it keeps the CRITICAL and EMERGENCY episodes. OOM kills, from however
many sources, are counted once (`OomLedger`). The kernel log's kills are host-wide: each is
matched to a container of the session by the ID in its cgroup's path (one the session never
read, killed at its start, is known by its engine's events), and one of no container of the
session's is let go.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from dockermem.config import Settings
from dockermem.core.events import (
    ContainerPeak,
    EngineStatus,
    Event,
    EventType,
    Frame,
    WatchedContainer,
)
from dockermem.core.host import HostMemory
from dockermem.core.leaks import (
    RECENT_GROWTH_SECONDS,
    DropWatch,
    GrowthFit,
    LeakPolicy,
    PeakBuckets,
    SlidingFit,
    describe_leak,
    format_eta,
    is_leak,
    shown_trend,
)
from dockermem.core.oom import (
    SAME_KILL_SECONDS,
    SIGKILL_EXIT,
    MemorySample,
    OomKill,
    OomKind,
    OomLedger,
    kernel_details,
)
from dockermem.core.thresholds import ThresholdLevel, Thresholds
from dockermem.docker.models import ContainerEvent, ContainerState, ContainerStats, ContainerSummary
from dockermem.kernel.oom_log import KernelOomKill
from dockermem.units import NameOrder, format_bytes, name_order

# A limit within this fraction of the engine's memory is docker's way of showing no limit.
NO_LIMIT_FRACTION = 0.998
RECOVERY_MARGIN_PERCENT = 5.0
MAX_WINDOW_POINTS = 3000
SPARKLINE_BUCKETS = 20
# Peaks of containers long gone are kept for the summary, up to this many containers.
MAX_PEAKS = 10_000
MAX_EVENTS_REMEMBERED = 10_000
# A kernel kill of a container the session does not know yet waits this long for its engine's
# events or listing to name it (a container killed at its start: its `die` comes after).
KERNEL_MATCH_SECONDS = 30.0
MAX_KERNEL_KILLS_WAITING = 1000


@dataclass(frozen=True)
class Identity:
    """Who a container is, as far as the session knows it."""

    engine: str
    container_id: str
    name: str
    service: str | None
    project: str | None


@dataclass(frozen=True)
class JudgeRules:
    """The settings the judge applies."""

    thresholds: Thresholds
    high_memory_percent: float
    leak: LeakPolicy
    leak_window_seconds: float
    same_kill_seconds: float = SAME_KILL_SECONDS  # see OomLedger

    @classmethod
    def from_settings(cls, settings: Settings, same_kill_seconds: float = SAME_KILL_SECONDS) -> JudgeRules:
        return cls(
            thresholds=Thresholds.from_settings(settings),
            high_memory_percent=settings.high_memory_percent,
            leak=LeakPolicy(
                min_r_squared=settings.leak_min_r_squared,
                min_mib_per_minute=settings.leak_min_mib_per_minute,
                min_span_seconds=settings.leak_min_span_seconds,
                urgent_seconds=settings.leak_urgent_seconds,
            ),
            leak_window_seconds=settings.leak_window_seconds,
            same_kill_seconds=same_kill_seconds,
        )


@dataclass(frozen=True)
class ContainerReading:
    """One container's memory as a feed read it at one tick, with the cgroup's count of OOM
    kills when the cgroup files were read."""

    summary: ContainerSummary
    stats: ContainerStats
    oom_kills: int | None = None


@dataclass(frozen=True)
class EngineReading:
    """One engine at one tick: the running containers it lists, and those read."""

    name: str
    memory_total_bytes: int | None
    source: str
    up: bool
    listed: tuple[ContainerSummary, ...]
    readings: tuple[ContainerReading, ...]
    has_listed: bool = True  # False until the engine's first listing came


@dataclass(frozen=True)
class Moment:
    """When a judge call happens: the session's clock (seconds, for spans) and the wall time."""

    clock: float
    ts: datetime


@dataclass(frozen=True)
class LateWord:
    """A sighting of a kill (docker's `oom` event) that came after the window of a kill of its
    container its source had not told of: of that kill, told late, or of a new one? The
    container's counter, read afresh for it (Judge.counter_now: the session reads it at once),
    says; a death, or the container gone, before that makes it a kill of its own."""

    seen_by: str
    at: datetime


@dataclass
class ContainerJudge:
    """What the judge remembers of one container, in bounded buffers, and how it judges a reading."""

    engine: str
    summary: ContainerSummary
    window_seconds: float
    growth: SlidingFit = field(init=False)
    recent_growth: SlidingFit = field(init=False)
    drops: DropWatch = field(init=False)
    history: PeakBuckets = field(init=False)
    latest: ContainerStats | None = None
    peak_bytes: int = 0
    warned: bool = False
    leaking: bool = False
    emergency: bool = False
    oom_kills: int = 0
    cgroup_oom_count: int | None = None  # its cgroup's counter at the last reading
    late_words: list[LateWord] = field(default_factory=list)  # waiting for the counter, read afresh

    def __post_init__(self) -> None:
        self.growth = SlidingFit(self.window_seconds, MAX_WINDOW_POINTS)
        self.recent_growth = SlidingFit(RECENT_GROWTH_SECONDS, MAX_WINDOW_POINTS)
        self.drops = DropWatch()
        self.history = PeakBuckets(self.window_seconds, SPARKLINE_BUCKETS)

    @property
    def name(self) -> str:
        return self.summary.name

    def last_sample(self, ts: datetime) -> MemorySample | None:
        if self.latest is None:
            return None
        return MemorySample(ts, self.latest.memory_usage_bytes, self.latest.memory_limit_bytes)

    def judge(
        self, moment: Moment, reading: ContainerReading, engine_total: int, rules: JudgeRules
    ) -> tuple[WatchedContainer, list[Event], int]:
        """The container's row, the events this reading causes, and how many OOM kills its
        cgroup counted since the last reading."""
        stats = reading.stats
        self.latest = stats
        self.peak_bytes = max(self.peak_bytes, stats.memory_usage_bytes)
        self.growth.add(moment.clock, float(stats.memory_usage_bytes))
        self.recent_growth.add(moment.clock, float(stats.memory_usage_bytes))
        dropped = self.drops.add(moment.clock, stats.memory_usage_bytes)
        self.history.add(moment.clock, stats.memory_usage_bytes)
        limit = stats.memory_limit_bytes
        if limit is not None and limit >= engine_total * NO_LIMIT_FRACTION:
            limit = None
        usage = stats.memory_usage_bytes
        percent = None if limit is None else round(100.0 * usage / limit, 2)
        share = 100.0 * usage / (limit if limit is not None else engine_total)
        level = rules.thresholds.level_for(share)
        fit = self.growth.fit()
        events = [
            *self._warning(moment, percent, limit, rules),
            *self._emergency(moment, level, share, limit is not None),
            *self._leak(moment, fit, limit, rules.leak, dropped),
        ]
        row = self._row(stats, limit, percent, level, fit, rules.leak)
        return row, events, self.new_counter_kills(reading.oom_kills)

    def new_counter_kills(self, count: int | None) -> int:
        """Kills the cgroup's counter shows since the last reading. At the first reading of a
        container that was there before the session, none: those kills are old news."""
        if count is None:
            return 0
        new = 0 if self.cgroup_oom_count is None else max(0, count - self.cgroup_oom_count)
        self.cgroup_oom_count = count
        return new

    def _warning(
        self, moment: Moment, percent: float | None, limit: int | None, rules: JudgeRules
    ) -> list[Event]:
        """Once when it crosses `high_memory_percent` of its limit; taken back once it falls
        a margin below it."""
        high = rules.high_memory_percent
        if percent is not None and percent >= high and not self.warned:
            self.warned = True
            message = (
                f"{self.name} at {percent:.1f}% of its {format_bytes(limit or 0)} limit (warns at {high:g}%)"
            )
            return [self.event(moment, EventType.WARNING, message, percent=percent)]
        if self.warned and (percent is None or percent < high - RECOVERY_MARGIN_PERCENT):
            self.warned = False
            return [self.event(moment, EventType.RECOVERED, f"{self.name} back below {high:g}%")]
        return []

    def _emergency(self, moment: Moment, level: ThresholdLevel, share: float, has_limit: bool) -> list[Event]:
        """Once per episode at EMERGENCY; the episode ends below CRITICAL."""
        if level is ThresholdLevel.EMERGENCY and not self.emergency:
            self.emergency = True
            of = "of its limit" if has_limit else "of the engine's memory (it has no limit)"
            return [
                self.event(moment, EventType.EMERGENCY, f"{self.name} is at EMERGENCY: {share:.1f}% {of}")
            ]
        if level < ThresholdLevel.CRITICAL:
            self.emergency = False
        return []

    def _leak(
        self, moment: Moment, fit: GrowthFit | None, limit: int | None, policy: LeakPolicy, dropped: bool
    ) -> list[Event]:
        """A `leak` when the growth is steady and large enough (`is_leak`), saying what it rests
        on; taken back by a `leak-cleared` once memory falls (a drop) or stops growing. Growth
        with a drop in the window is a cycle (a batch, a collector), not a leak: no `leak`."""
        if self.leaking:
            if not dropped and self._still_growing(policy):
                return []
            self.leaking = False
            cleared = self._leak_cleared(moment, dropped)
            # A new leak must rest on new evidence: the fit over the window still holds the growth
            # just taken back, and would raise it again at the next reading.
            self.growth = SlidingFit(self.window_seconds, MAX_WINDOW_POINTS)
            return [cleared]
        if fit is None or self.drops.dropped_within(moment.clock, self.window_seconds):
            return []
        if not is_leak(fit, limit, policy) or not self._still_growing(policy):
            return []
        self.leaking = True
        remaining = None if limit is None else fit.seconds_to(limit)
        return [
            self.event(
                moment, EventType.LEAK, describe_leak(self.summary.service or self.name, fit, limit),
                mib_per_minute=round(fit.mib_per_minute, 3),
                seconds_to_limit=None if remaining is None else round(remaining, 1),
                r_squared=round(fit.r_squared, 4),
                span_seconds=round(fit.span_seconds, 1),
                samples=fit.points,
            )
        ]  # fmt: skip

    def _still_growing(self, policy: LeakPolicy) -> bool:
        """Whether the last `RECENT_GROWTH_SECONDS` still grow at half a leak's least rate (too
        few seconds to tell: still growing)."""
        recent = self.recent_growth.fit()
        if recent is None or recent.span_seconds < RECENT_GROWTH_SECONDS / 2:
            return True
        return recent.mib_per_minute >= policy.min_mib_per_minute / 2

    def _leak_cleared(self, moment: Moment, dropped: bool) -> Event:
        who = self.summary.service or self.name
        recent = self.recent_growth.fit()
        if dropped and self.drops.last_drop is not None:
            fell = self.drops.last_drop[1]
            now = self.latest.memory_usage_bytes if self.latest is not None else 0
            message = f"{who}: no longer growing: memory fell by {format_bytes(fell)} to {format_bytes(now)}"
            return self.event(moment, EventType.LEAK_CLEARED, message, reason="fell", fell_bytes=fell)
        rate = 0.0 if recent is None else recent.mib_per_minute
        span = 0.0 if recent is None else recent.span_seconds
        message = f"{who}: no longer growing ({rate:+.1f} MiB/min over the last {format_eta(span)})"
        return self.event(
            moment, EventType.LEAK_CLEARED, message, reason="stopped", mib_per_minute=round(rate, 3)
        )

    def _row(
        self,
        stats: ContainerStats,
        limit: int | None,
        percent: float | None,
        level: ThresholdLevel,
        fit: GrowthFit | None,
        policy: LeakPolicy,
    ) -> WatchedContainer:
        seconds_to_limit = None
        if fit is not None and limit is not None and self.leaking:
            seconds_to_limit = fit.seconds_to(limit)
        return WatchedContainer(
            engine=self.engine,
            id=self.summary.id,
            name=self.name,
            project=self.summary.project,
            service=self.summary.service,
            memory_usage_bytes=stats.memory_usage_bytes,
            memory_limit_bytes=limit,
            memory_percent=percent,
            cpu_percent=stats.cpu_percent,
            level=level,
            trend_mib_per_minute=(
                round(fit.mib_per_minute, 2) if self.leaking and fit is not None else shown_trend(fit, policy)
            ),
            seconds_to_limit=None if seconds_to_limit is None else round(seconds_to_limit, 1),
            leaking=self.leaking,
            recent_usage=self.history.peaks(),
            peak_bytes=self.peak_bytes,
            oom_kills=self.oom_kills,
        )

    def memory_details(self) -> dict[str, Any]:
        """Its memory at the last reading, as an event's details carry it."""
        if self.latest is None:
            return {}
        return {
            "memory_usage_bytes": self.latest.memory_usage_bytes,
            "memory_limit_bytes": self.latest.memory_limit_bytes,
        }

    def event(self, moment: Moment, kind: EventType, message: str, **details: Any) -> Event:
        """An event about this container, with its memory at the last reading."""
        return Event(
            kind, moment.ts, self.engine, self.name, message, self.summary.id, self.summary.project,
            self.summary.service, {**self.memory_details(), **details},
        )  # fmt: skip


@dataclass
class _PressureEpisodes:
    """Whether the host and the engines together are in a CRITICAL or an EMERGENCY episode."""

    critical: bool = False
    emergency: bool = False


class Judge:
    """Frames and events from readings and engine events, for one session."""

    def __init__(self, rules: JudgeRules) -> None:
        self.rules = rules
        self.ledger = OomLedger(rules.same_kill_seconds)
        self.oom_seen = False
        self.emergency_seen = False
        self._containers: dict[tuple[str, str], ContainerJudge] = {}
        self._listed: dict[str, dict[str, ContainerSummary]] = {}
        # The containers of each engine's first listing: those that were there before the session.
        self._there_before: dict[str, set[str]] = {}
        self._announced: set[tuple[str, str]] = set()
        self._peaks: dict[tuple[str, str], ContainerPeak] = {}
        self._pressure = _PressureEpisodes()
        self._down: set[str] = set()
        # Docker events already judged: a span read again (a catch-up) tells each once.
        self._judged_events: deque[tuple[str, str, datetime]] = deque(maxlen=MAX_EVENTS_REMEMBERED)
        # The containers the engines' events named (one may die before any listing sees it).
        self._named_by_events: OrderedDict[str, Identity] = OrderedDict()
        # Late words taken for an older kill's, by container: a death just after takes them back.
        self._late_guesses: dict[tuple[str, str], tuple[float, LateWord]] = {}
        self._kernel_waiting: deque[tuple[float, KernelOomKill]] = deque(maxlen=MAX_KERNEL_KILLS_WAITING)
        self._host: HostMemory | None = None  # the latest tick's (a host-wide kill names it)

    # Each tick

    def tick(
        self, moment: Moment, elapsed_seconds: float, host: HostMemory, engines: Sequence[EngineReading]
    ) -> tuple[Frame, list[Event]]:
        """Judge one tick's readings: the frame, and the events they cause."""
        events: list[Event] = []
        rows: list[WatchedContainer] = []
        statuses: list[EngineStatus] = []
        self._host = host
        for engine in engines:
            events += self._listing(moment, engine)
            if self._kernel_waiting:
                events += self._match_kernel_kills(moment)  # the listing may have named their container
            total = engine.memory_total_bytes or host.memory_total_bytes
            engine_rows: list[WatchedContainer] = []
            for reading in engine.readings:
                row, found = self._judge_container(moment, engine.name, reading, total)
                engine_rows.append(row)
                events += found
            rows += engine_rows
            used = sum(row.memory_usage_bytes for row in engine_rows)
            level = self.rules.thresholds.level_for(100.0 * used / total)
            statuses.append(
                EngineStatus(engine.name, engine.memory_total_bytes, engine.source, engine.up, used, level)
            )
        host_level = self.rules.thresholds.level_for(host.memory_percent)
        events += self._judge_pressure(moment, host, host_level, statuses)
        self._note(events)
        frame = Frame(
            moment.ts, elapsed_seconds, host, host_level, tuple(statuses), tuple(sorted(rows, key=_row_order))
        )
        return frame, events

    def _listing(self, moment: Moment, engine: EngineReading) -> list[Event]:
        """Containers that came (started) and went (gone) since the engine's last listing.
        Those running at its first listing are not news; one already announced by its start
        event is not announced again."""
        if not engine.has_listed:
            return []
        listed = {summary.id: summary for summary in engine.listed}
        previous = self._listed.get(engine.name)
        self._listed[engine.name] = listed
        events: list[Event] = []
        if previous is None:
            self._there_before[engine.name] = set(listed)
            self._announced.update((engine.name, cid) for cid in listed)
            return events
        for container_id in listed.keys() - previous.keys():
            if (engine.name, container_id) not in self._announced:
                self._announced.add((engine.name, container_id))
                summary = listed[container_id]
                events.append(
                    _summary_event(
                        moment, engine.name, summary, EventType.STARTED, f"{_who(summary)} started"
                    )
                )
        for container_id in previous.keys() - listed.keys():
            self._announced.discard((engine.name, container_id))
            watched = self._containers.get((engine.name, container_id))
            if watched is not None:
                events += self._weigh_late_words(moment, engine.name, watched, all_kills_counted=False)
            self._containers.pop((engine.name, container_id), None)
            summary = previous[container_id]
            if watched is not None:
                events.append(watched.event(moment, EventType.GONE, f"{summary.name} is gone"))
            else:
                events.append(
                    _summary_event(moment, engine.name, summary, EventType.GONE, f"{summary.name} is gone")
                )
        return events

    def _judge_container(
        self, moment: Moment, engine: str, reading: ContainerReading, engine_total: int
    ) -> tuple[WatchedContainer, list[Event]]:
        key = (engine, reading.summary.id)
        container = self._containers.get(key)
        if container is None:
            container = self._containers[key] = ContainerJudge(
                engine, reading.summary, self.rules.leak_window_seconds
            )
            kept = self._peaks.get(key)
            if kept is not None:  # back with the same ID (restarted): its peak and kills go on
                container.peak_bytes, container.oom_kills = kept.peak_bytes, kept.oom_kills
            if self._came_during_session(engine, reading.summary.id):
                # Every kill its counter shows is the session's: one of a process killed before
                # the first reading (a child killed at start, on an engine that sends no event).
                container.cgroup_oom_count = 0
        row, events, counter_kills = container.judge(moment, reading, engine_total, self.rules)
        for _ in range(counter_kills):
            events += self._watched_oom(moment, engine, container, "cgroup", moment.ts)
        if counter_kills:
            row = replace(row, oom_kills=container.oom_kills)
        self._keep_peak(key, row)
        return row, events

    def waits_for_counter(self, engine: str, container_id: str) -> bool:
        """Whether a word of a kill of the container waits for its counter (see LateWord)."""
        container = self._container(engine, container_id)
        return container is not None and bool(container.late_words)

    def counter_now(
        self,
        moment: Moment,
        engine: str,
        container_id: str,
        count: int | None,
        *,
        kernel_log_read: bool = False,
    ) -> list[Event]:
        """The container's OOM count, read afresh for the words that wait for it (None: it
        could not be read; `kernel_log_read`: the kernel's log was read just before): the kills
        it shows that none saw, then what each word was of."""
        container = self._container(engine, container_id)
        if container is None:
            return []
        found: list[Event] = []
        for _ in range(container.new_counter_kills(count)):
            found += self._watched_oom(moment, engine, container, "cgroup", moment.ts)
        counted = count is not None or kernel_log_read
        return found + self._weigh_late_words(moment, engine, container, all_kills_counted=counted)

    def _weigh_late_words(
        self, moment: Moment, engine: str, container: ContainerJudge, *, all_kills_counted: bool
    ) -> list[Event]:
        """Each late word of a kill. Every kill counted by a source that tells of them all
        (the counter read afresh, or the kernel's log just read): the word is of one of them,
        told late. Else (the container died, or is gone, and the kernel's log is not read), it
        is a kill of its own."""
        found: list[Event] = []
        words, container.late_words = container.late_words, []
        for word in words:
            if all_kills_counted:
                if self.ledger.told_late(moment.clock, word.seen_by, container.summary.id):
                    self._late_guesses = {
                        key: guess
                        for key, guess in self._late_guesses.items()
                        if moment.clock - guess[0] < self.rules.same_kill_seconds
                    }
                    self._late_guesses[(engine, container.summary.id)] = (moment.clock, word)
            else:
                found += self._watched_oom(moment, engine, container, word.seen_by, word.at, may_wait=False)
        return found

    def _late_guess_was_fatal(self, moment: Moment, engine: str, container_id: str) -> list[Event]:
        """A container died with 137 and no kill counted just before: a word taken just before
        for a late word of an older kill (see OomLedger.told_late) was of the fatal one, which
        its counter, read before the kill was counted (cgroup v1 tells of an OOM before the
        kill), and a kernel's log that missed it (rate-limited, overrun) did not show."""
        guess = self._late_guesses.pop((engine, self._full_id(engine, container_id)), None)
        if guess is None or moment.clock - guess[0] >= self.rules.same_kill_seconds:
            return []
        word = guess[1]
        who = self._identity(container_id) or Identity(engine, container_id, "", None, None)
        return self._oom(moment, engine, who.container_id, who.name, who.service, who.project, word.seen_by,
                         word.at, may_wait=False)  # fmt: skip

    def _came_during_session(self, engine: str, container_id: str) -> bool:
        there_before = self._there_before.get(engine)
        return there_before is not None and container_id not in there_before

    def _judge_pressure(
        self, moment: Moment, host: HostMemory, host_level: ThresholdLevel, engines: Sequence[EngineStatus]
    ) -> list[Event]:
        """CRITICAL and EMERGENCY of the host and the engines, once per episode (it ends when
        all are below CRITICAL again)."""
        level = max([host_level, *(engine.level for engine in engines)], key=lambda each: each.rank)
        pressure = self._pressure
        if level < ThresholdLevel.CRITICAL:
            pressure.critical = pressure.emergency = False
            return []
        where = f"host {host.memory_percent:.1f}% used" + "".join(
            f", engine {engine.name} {engine.memory_percent:.1f}% in containers"
            for engine in engines
            if engine.memory_percent is not None
        )
        details = {"host_memory_percent": host.memory_percent, "host_level": host_level.value}
        events = []
        if not pressure.critical:
            pressure.critical = True
            message = f"memory is CRITICAL: {where}"
            events.append(Event(EventType.CRITICAL, moment.ts, "", None, message, details=details))
        if level is ThresholdLevel.EMERGENCY and not pressure.emergency:
            pressure.emergency = True
            message = f"memory is at EMERGENCY: {where}"
            events.append(Event(EventType.EMERGENCY, moment.ts, "", None, message, details=details))
        return events

    # The engine's events

    def engine_event(self, moment: Moment, engine: str, event: ContainerEvent) -> list[Event]:
        """What a container event of an engine means: an OOM kill, a start, a health change,
        an exit (create and destroy change nothing here)."""
        seen = (event.container_id, event.action, event.time)
        if seen in self._judged_events:
            return []
        self._judged_events.append(seen)
        self._remember(Identity(engine, event.container_id, event.name, event.service, event.project))
        who = event.service or event.name or event.container_id[:12]
        # A kernel kill waiting for its container's name first: a death then knows its cause.
        found = self._match_kernel_kills(moment)
        if event.action == "oom":
            found += self._oom(moment, engine, event.container_id, event.name, event.service, event.project,
                              "docker events", event.time)  # fmt: skip
        elif event.action == "start":
            key = (engine, self._full_id(engine, event.container_id))
            if key not in self._announced:
                self._announced.add(key)
                found += [self._container_event(moment, engine, event, EventType.STARTED, f"{who} started")]
        elif event.action.startswith("health_status"):
            status = event.action.partition(":")[2].strip()
            kind = {"healthy": EventType.HEALTHY, "unhealthy": EventType.UNHEALTHY}.get(status)
            if kind is not None:
                found += [self._container_event(moment, engine, event, kind, f"{who} {status}")]
        elif event.action == "die":
            dead = self._container(engine, event.container_id)
            if dead is not None:  # its counter is read no more
                found += self._weigh_late_words(moment, engine, dead, all_kills_counted=False)
            killed = self.ledger.died(moment.clock, event.container_id, event.exit_code, event.time)
            if not killed and event.exit_code == SIGKILL_EXIT:
                fatal = self._late_guess_was_fatal(moment, engine, event.container_id)
                found += fatal
                killed = bool(fatal)
            cause = " (OOM-killed)" if killed else ""
            message = f"{who} exited with code {event.exit_code}{cause}"
            found += [
                self._container_event(
                    moment, engine, event, EventType.EXITED, message, exit_code=event.exit_code
                )
            ]
        self._note(found)
        return found

    def engine_down(self, moment: Moment, engine: str, message: str) -> list[Event]:
        """An engine stopped answering: said once until it answers again."""
        if engine in self._down:
            return []
        self._down.add(engine)
        found = [
            Event(EventType.ENGINE_DOWN, moment.ts, engine, None, f"engine {engine} unreachable: {message}")
        ]
        self._note(found)
        return found

    def engine_back(self, engine: str) -> None:
        self._down.discard(engine)

    def stream_restarted(self, moment: Moment, engine: str, stream: str) -> list[Event]:
        message = f"docker {stream} stream ended; restarted"
        return [
            Event(EventType.STREAM_RESTARTED, moment.ts, engine, None, message, details={"stream": stream})
        ]

    def kernel_kills(self, moment: Moment, kills: Sequence[KernelOomKill]) -> list[Event]:
        """The kernel log's OOM kills: each of a container of the session's is an OOM kill
        (the same kill as its event's or counter's, when they saw it too)."""
        self._kernel_waiting.extend((moment.clock, kill) for kill in kills if kill.container_id)
        return self._match_kernel_kills(moment)

    def _match_kernel_kills(self, moment: Moment) -> list[Event]:
        found: list[Event] = []
        waiting = list(self._kernel_waiting)
        self._kernel_waiting.clear()
        for seen_at, kill in waiting:
            identity = self._identity(kill.container_id or "")
            if identity is not None:
                found += self._oom(moment, identity.engine, identity.container_id, identity.name,
                                   identity.service, identity.project, "kernel log", kill.at or moment.ts,
                                   kernel=kill)  # fmt: skip
            elif moment.clock - seen_at < KERNEL_MATCH_SECONDS:
                self._kernel_waiting.append((seen_at, kill))
        return found

    def settle(
        self, moment: Moment, engine: str, states: Sequence[ContainerState], since: datetime | None = None
    ) -> list[Event]:
        """What `docker inspect` says of an engine's containers at the end of a start: the OOM
        kills its states show that no event or counter did, each an OOM event now (see
        OomLedger.settle; `since`: the session's start), and the kernel's kills of containers
        known by them alone."""
        for state in states:
            self._remember(Identity(engine, state.id, state.name, state.service, state.project))
        found = self._match_kernel_kills(moment)
        for kill in self.ledger.settle(moment.clock, engine, states, self.samples(moment.ts), since):
            self.oom_seen = True
            self._count_kill(kill.engine, kill.container_id, self._container(kill.engine, kill.container_id))
            found.append(
                Event(EventType.OOM, moment.ts, kill.engine, kill.name, f"OOM kill in {kill.name}",
                      kill.container_id, kill.project, kill.service, {"seen_by": kill.seen_by})
            )  # fmt: skip
        return found

    # What it knows

    @property
    def peak_list(self) -> tuple[ContainerPeak, ...]:
        """Every container's peak (gone ones too), by engine and name."""
        return tuple(sorted(self._peaks.values(), key=lambda peak: (peak.engine, name_order(peak.name))))

    def samples(self, ts: datetime) -> dict[str, MemorySample]:
        """Each watched container's memory at its last reading (for "last seen at")."""
        return {
            container.summary.id: sample
            for container in self._containers.values()
            if (sample := container.last_sample(ts)) is not None
        }

    @property
    def peaks(self) -> dict[str, int]:
        """Each container's peak by its ID (every container seen, gone ones too)."""
        return {key[1]: peak.peak_bytes for key, peak in self._peaks.items()}

    # Helpers

    def _oom(
        self,
        moment: Moment,
        engine: str,
        container_id: str,
        name: str,
        service: str | None,
        project: str | None,
        seen_by: str,
        at: datetime,
        kernel: KernelOomKill | None = None,
        *,
        may_wait: bool = True,
    ) -> list[Event]:
        """One sighting of an OOM kill: an event when it is a kill not counted yet (one that
        may be a late word of a kill counted waits for its container's counter)."""
        container = self._container(engine, container_id)
        if container is not None:
            name, service, project = container.name, container.summary.service, container.summary.project
            container_id = container.summary.id
        name = name or container_id[:12]
        sample = None if container is None else container.last_sample(at)
        host = self._host if kernel is not None and kernel.host_wide else None
        kill = OomKill(
            container_id, name, service, OomKind.PROCESS, at, sample, seen_by, project, engine, kernel, host
        )
        if (
            may_wait
            and container is not None
            and kernel is None
            and seen_by != "cgroup"
            and container.cgroup_oom_count is not None
            and self.ledger.may_be_late(moment.clock, seen_by, kill)
        ):
            container.late_words.append(LateWord(seen_by, at))
            return []
        if not self.ledger.sighted(moment.clock, seen_by, kill):
            return []
        self.oom_seen = True
        self._count_kill(engine, container_id, container)
        memory = {} if container is None else container.memory_details()
        details = {**memory, "seen_by": seen_by, **({} if kernel is None else kernel_details(kernel, host))}
        message = f"OOM kill in {name}"
        return [
            Event(EventType.OOM, moment.ts, engine, name, message, container_id, project, service, details)
        ]

    def _watched_oom(
        self, moment: Moment, engine: str, container: ContainerJudge, seen_by: str, at: datetime, *,
        may_wait: bool = True,
    ) -> list[Event]:  # fmt: skip
        """A sighting of a kill of a container the judge watches (see _oom)."""
        summary = container.summary
        return self._oom(moment, engine, summary.id, summary.name, summary.service, summary.project,
                         seen_by, at, may_wait=may_wait)  # fmt: skip

    def _remember(self, identity: Identity) -> None:
        if identity.container_id:
            self._named_by_events[identity.container_id] = identity
            self._named_by_events.move_to_end(identity.container_id)
            while len(self._named_by_events) > MAX_EVENTS_REMEMBERED:
                self._named_by_events.popitem(last=False)

    def _identity(self, container_id: str) -> Identity | None:
        """The container of the session's with this (full) ID: watched, listed, or named by
        its engine's events; None for a container of no concern to the session."""
        for (engine, cid), container in self._containers.items():
            if cid == container_id:
                summary = container.summary
                return Identity(engine, cid, summary.name, summary.service, summary.project)
        for engine, listed in self._listed.items():
            if (found := listed.get(container_id)) is not None:
                return Identity(engine, container_id, found.name, found.service, found.project)
        return next(
            (identity for cid, identity in self._named_by_events.items() if cid.startswith(container_id)
             or (len(cid) >= 12 and container_id.startswith(cid))),
            None,
        )  # fmt: skip

    def _container(self, engine: str, container_id: str) -> ContainerJudge | None:
        key = _key_of(self._containers, engine, container_id)
        return None if key is None else self._containers[key]

    def _full_id(self, engine: str, container_id: str) -> str:
        container = self._container(engine, container_id)
        return container_id if container is None else container.summary.id

    def _container_event(
        self,
        moment: Moment,
        engine: str,
        event: ContainerEvent,
        kind: EventType,
        message: str,
        **details: Any,
    ) -> Event:
        container = self._container(engine, event.container_id)
        if container is not None:
            return container.event(moment, kind, message, **details)
        name = event.name or event.container_id[:12]
        return Event(
            kind, moment.ts, engine, name, message, event.container_id, event.project, event.service, details
        )

    def _keep_peak(self, key: tuple[str, str], row: WatchedContainer) -> None:
        self._peaks[key] = ContainerPeak(
            row.engine,
            row.name,
            row.project,
            row.service,
            row.peak_bytes,
            row.memory_limit_bytes,
            row.oom_kills,
        )
        if len(self._peaks) > MAX_PEAKS:
            oldest = next((k for k in self._peaks if k not in self._containers), None)
            if oldest is not None:
                del self._peaks[oldest]

    def _count_kill(self, engine: str, container_id: str, container: ContainerJudge | None) -> None:
        """A kill counted in its container's count and in its peak, which no reading would
        raise when the container is gone or goes before its next reading (a kill of its main
        process, or one told late)."""
        if container is not None:
            container.oom_kills += 1
        key = _key_of(self._peaks, engine, container_id)
        if key is not None:
            peak = self._peaks[key]
            kills = peak.oom_kills + 1 if container is None else container.oom_kills
            self._peaks[key] = replace(peak, oom_kills=kills)

    def _note(self, events: Sequence[Event]) -> None:
        for event in events:
            if event.type is EventType.EMERGENCY:
                self.emergency_seen = True


def _key_of(
    entries: Mapping[tuple[str, str], object], engine: str, container_id: str
) -> tuple[str, str] | None:
    """The key of a container's entry, by its engine and its ID or a prefix of it (docker
    shortens them); None when it has none."""
    if (engine, container_id) in entries:
        return engine, container_id
    if not container_id:
        return None
    return next((key for key in entries if key[0] == engine and key[1].startswith(container_id)), None)


def _row_order(row: WatchedContainer) -> tuple[str, str, str, NameOrder]:
    return (row.engine, row.project or "", row.service or "", name_order(row.name))


def _who(summary: ContainerSummary) -> str:
    return summary.service or summary.name


def _summary_event(
    moment: Moment, engine: str, summary: ContainerSummary, kind: EventType, message: str
) -> Event:
    return Event(kind, moment.ts, engine, summary.name, message, summary.id, summary.project, summary.service)
