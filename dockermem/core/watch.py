"""`watch`: follow every container's memory on one or more engines, with trends, leak
predictions, warnings with hysteresis, OOM kills as they happen, and streams restarted when
they end. Never prints: each tick becomes a `WatchFrame`, each happening a `WatchEvent`."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import anyio

from dockermem.config import Settings
from dockermem.core.concurrency import cancel_on_signals
from dockermem.core.host import HostMemory, host_cpu_since_start, read_host_memory, start_cpu_window
from dockermem.core.leaks import GrowthFit, LeakPolicy, PeakBuckets, SlidingFit, describe_leak, is_leak
from dockermem.core.readings import SOURCE_CGROUP, SOURCE_DOCKER_STATS, cgroup_reader
from dockermem.core.snapshot import ContainerMemory
from dockermem.core.thresholds import ThresholdLevel, Thresholds
from dockermem.docker.cgroup import CgroupLocation, CgroupReader, CgroupReading
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ContainerStats, ContainerSummary
from dockermem.errors import DockermemError, DockerUnavailableError
from dockermem.units import format_bytes

# How long `docker events` may report an OOM after the cgroup counter showed it (one kill, one event).
OOM_DEDUPE_SECONDS = 5.0
RECOVERY_MARGIN_PERCENT = 5.0
# The container list follows docker events; a full listing now and then catches what they missed.
REFRESH_SECONDS = 30.0
MAX_RECENT_EVENTS = 50
MAX_WINDOW_POINTS = 3000
SPARKLINE_BUCKETS = 20
# The fast path reads a container's limit and OOM count at every this many ticks (memory every tick).
FULL_READ_EVERY = 5
RESTART_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0)


class WatchEventType(Enum):
    """The kinds of things a watch reports (the `type` of a JSON line)."""

    WARNING = "warning"
    RECOVERED = "recovered"
    EMERGENCY = "emergency"
    OOM = "oom"
    LEAK = "leak"
    STARTED = "started"
    GONE = "gone"
    STREAM_RESTARTED = "stream-restarted"
    ENGINE_DOWN = "engine-down"
    SCALED = "scaled"


@dataclass(frozen=True)
class WatchEvent:
    """Something that happened, on one engine, to one container (or to the engine)."""

    type: WatchEventType
    ts: datetime
    engine: str
    container: str | None
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WatchedContainer(ContainerMemory):
    """One row of the live table: a container's memory, on which engine, and its course."""

    engine: str
    trend_mib_per_minute: float | None
    seconds_to_limit: float | None
    leaking: bool
    recent_usage: tuple[int, ...]
    peak_bytes: int
    oom_kills: int


@dataclass(frozen=True)
class EngineStatus:
    """One engine as the watch sees it."""

    name: str
    memory_total_bytes: int | None
    source: str
    up: bool


@dataclass(frozen=True)
class WatchFrame:
    """Everything the live view shows at one tick."""

    ts: datetime
    elapsed_seconds: float
    host: HostMemory
    engines: tuple[EngineStatus, ...]
    containers: tuple[WatchedContainer, ...]
    recent_events: tuple[WatchEvent, ...]


@dataclass(frozen=True)
class WatchSummary:
    """How a watch ended: the peaks, and whether an OOM kill or EMERGENCY was seen."""

    peaks: tuple[tuple[str, str, int, int | None], ...]  # engine, container, peak bytes, limit
    oom_seen: bool
    emergency_seen: bool
    stopped_by_signal: int | None = None


@dataclass
class ContainerTrack:
    """What the watch remembers of one container, in bounded buffers."""

    summary: ContainerSummary
    window_seconds: float
    growth: SlidingFit = field(init=False)
    history: PeakBuckets = field(init=False)
    latest: ContainerStats | None = None
    level: ThresholdLevel = ThresholdLevel.SAFE
    peak_bytes: int = 0
    warned: bool = False
    leaking: bool = False
    emergency: bool = False
    oom_kills: int = 0
    cgroup_oom_count: int | None = None
    last_oom_event: float = -math.inf
    last_oom_source: str = ""
    fit: GrowthFit | None = None

    def __post_init__(self) -> None:
        self.growth = SlidingFit(self.window_seconds, MAX_WINDOW_POINTS)
        self.history = PeakBuckets(self.window_seconds, SPARKLINE_BUCKETS)

    def add(self, now: float, stats: ContainerStats) -> None:
        self.latest = stats
        self.peak_bytes = max(self.peak_bytes, stats.memory_usage_bytes)
        self.growth.add(now, float(stats.memory_usage_bytes))
        self.history.add(now, stats.memory_usage_bytes)
        self.fit = self.growth.fit()


def leak_policy(settings: Settings) -> LeakPolicy:
    return LeakPolicy(
        min_r_squared=settings.leak_min_r_squared,
        min_mib_per_minute=settings.leak_min_mib_per_minute,
        min_span_seconds=settings.leak_min_span_seconds,
        urgent_seconds=settings.leak_urgent_seconds,
    )


class EngineFeed:
    """One engine: its container list, its `docker events` and (when needed) `docker stats`
    streams, restarted when they end, and its cgroup reader for the fast path."""

    def __init__(
        self, name: str, client: DockerClient, settings: Settings, emit: Callable[[WatchEvent], None]
    ):
        self.name = name
        self.client = client
        self.settings = settings
        self.emit = emit
        self.project: str | None = None
        self.containers: dict[str, ContainerSummary] = {}
        self.memory_total_bytes: int | None = None
        self.reader: CgroupReader | None = cgroup_reader(settings, keep_files_open=True)
        self.locations: dict[str, CgroupLocation | None] = {}
        self.cpu_marks: dict[str, tuple[int, float]] = {}
        self.stream_stats: dict[str, ContainerStats] = {}
        self.last_readings: dict[str, CgroupReading] = {}
        self._ticks = 0
        self.needs_stream = anyio.Event()
        self.refresh_wanted = anyio.Event()
        self.up = True
        self._down_reported = False
        self.listed_once = anyio.Event()

    @property
    def source(self) -> str:
        located = [location for location in self.locations.values() if location is not None]
        if located and len(located) == len(self.locations):
            return SOURCE_CGROUP
        if not self.locations:
            return SOURCE_CGROUP if self.reader is not None else SOURCE_DOCKER_STATS
        return SOURCE_DOCKER_STATS if not located else "cgroup+docker-stats"

    async def run(self) -> None:
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._keep_listing)
                tasks.start_soon(self._keep_following, "events", self._follow_events)
                await self.needs_stream.wait()
                tasks.start_soon(self._keep_following, "stats", self._follow_stats)
        finally:
            if self.reader is not None and self.reader.open_files is not None:
                self.reader.open_files.close()

    async def _keep_listing(self) -> None:
        while True:
            try:
                await self._refresh()
                if self.memory_total_bytes is None:
                    self.memory_total_bytes = (await self.client.system.info()).memory_total_bytes
                self._engine_back()
            except DockerUnavailableError as error:
                self._engine_down(str(error))
            except DockermemError:
                pass  # one failed listing; the next refresh tries again
            self.listed_once.set()
            with anyio.move_on_after(REFRESH_SECONDS):
                await self.refresh_wanted.wait()
            self.refresh_wanted = anyio.Event()

    async def _refresh(self) -> None:
        listed = {
            c.id: c for c in await self.client.container.ls(project=self.project) if c.state == "running"
        }
        for container_id in listed.keys() - self.containers.keys():
            summary = listed[container_id]
            self.emit(self._event(WatchEventType.STARTED, summary.name, f"{summary.name} started"))
            if self.reader is not None:
                location = self.reader.guess(container_id)
                if location is None:
                    pids = await self.client.container.pids([container_id])
                    location = self.reader.locate(container_id, pids.get(container_id, 0))
                self.locations[container_id] = location
            else:
                self.locations[container_id] = None
            if self.locations[container_id] is None:
                self.needs_stream.set()
        for container_id in self.containers.keys() - listed.keys():
            summary = self.containers[container_id]
            self.emit(self._event(WatchEventType.GONE, summary.name, f"{summary.name} is gone"))
            location = self.locations.pop(container_id, None)
            if location is not None and self.reader is not None and self.reader.open_files is not None:
                self.reader.open_files.forget(location)
            self.cpu_marks.pop(container_id, None)
            self.last_readings.pop(container_id, None)
            self.stream_stats.pop(container_id, None)
        self.containers = listed

    async def _keep_following(self, what: str, follow: Callable[[], Any]) -> None:
        """Follow a stream; when it ends (a streaming `docker stats` exits 0 when the daemon
        restarts), wait until the engine answers again, then start it again and say so."""
        while True:
            try:
                await follow()
            except DockerUnavailableError as error:
                self._engine_down(str(error))
            except DockermemError:
                pass
            await self._until_engine_answers()
            self.refresh_wanted.set()
            self.emit(
                self._event(
                    WatchEventType.STREAM_RESTARTED,
                    None,
                    f"docker {what} stream ended; restarted",
                    stream=what,
                )
            )

    async def _until_engine_answers(self) -> None:
        attempt = 0
        while True:
            await anyio.sleep(RESTART_BACKOFF_SECONDS[min(attempt, len(RESTART_BACKOFF_SECONDS) - 1)])
            attempt += 1
            try:
                await self.client.system.info()
            except DockerUnavailableError as error:
                self._engine_down(str(error))
            except DockermemError:
                pass
            else:
                self._engine_back()
                return

    async def _follow_events(self) -> None:
        since = datetime.now(UTC)
        actions = ("oom", "start", "die", "destroy")
        async with self.client.events.follow(since, project=self.project, actions=actions) as events:
            self._engine_back()
            async for event in events:
                if event.action == "oom":
                    self.on_oom(event.container_id, event.name, "docker events")
                else:
                    self.refresh_wanted.set()

    async def _follow_stats(self) -> None:
        async with self.client.container.stats_stream() as readings:
            async for stats in readings:
                self.stream_stats[self._full_id(stats.id)] = stats

    def _full_id(self, short_id: str) -> str:
        if short_id in self.containers:
            return short_id
        return next((cid for cid in self.containers if cid.startswith(short_id)), short_id)

    def on_oom(self, container_id: str, name: str, seen_by: str) -> None:
        """Called for an OOM kill seen in docker events or in the cgroup's counter."""
        key = next((cid for cid in self.containers if cid.startswith(container_id)), container_id)
        summary = self.containers.get(key)
        display = summary.name if summary else (name or container_id[:12])
        self.emit(
            self._event(
                WatchEventType.OOM,
                display,
                f"OOM kill in {display}",
                container_id=key,
                seen_by=seen_by,
                service=summary.service if summary else None,
            )  # fmt: skip
        )

    def read(self, now: float) -> dict[str, tuple[ContainerStats, int | None]]:
        """The latest reading of each running container (cgroup files, else the stats stream),
        with the cgroup's count of OOM kills when the fast path read it."""
        readings: dict[str, tuple[ContainerStats, int | None]] = {}
        self._ticks += 1
        for container_id, summary in self.containers.items():
            location = self.locations.get(container_id)
            if location is not None and self.reader is not None:
                previous = self.last_readings.get(container_id) if self._ticks % FULL_READ_EVERY else None
                reading = self.reader.read(location, previous)
                if reading is None:
                    continue
                self.last_readings[container_id] = reading
                cpu = None
                mark = self.cpu_marks.get(container_id)
                if reading.cpu_usage_ns is not None:
                    if mark is not None and now > mark[1]:
                        cpu = round(100.0 * (reading.cpu_usage_ns - mark[0]) / ((now - mark[1]) * 1e9), 2)
                    self.cpu_marks[container_id] = (reading.cpu_usage_ns, now)
                limit = reading.memory_limit_bytes
                stats = ContainerStats(
                    id=container_id,
                    name=summary.name,
                    memory_usage_bytes=reading.memory_usage_bytes,
                    memory_limit_bytes=limit,
                    memory_percent=None
                    if limit is None
                    else round(100 * reading.memory_usage_bytes / limit, 2),
                    cpu_percent=cpu,
                    pids=None,
                )
                readings[container_id] = (stats, reading.oom_kills)
            elif container_id in self.stream_stats:
                readings[container_id] = (self.stream_stats[container_id], None)
        return readings

    def _engine_down(self, message: str) -> None:
        self.up = False
        if not self._down_reported:
            self._down_reported = True
            self.emit(
                self._event(WatchEventType.ENGINE_DOWN, None, f"engine {self.name} unreachable: {message}")
            )

    def _engine_back(self) -> None:
        self.up = True
        self._down_reported = False

    def _event(self, kind: WatchEventType, container: str | None, message: str, **details: Any) -> WatchEvent:
        return WatchEvent(kind, datetime.now(UTC), self.name, container, message, details)


@dataclass
class Watcher:
    """Runs the feeds and turns each tick into a frame; keeps the tracks and the events."""

    settings: Settings
    engines: Sequence[tuple[str, DockerClient]]
    project: str | None
    on_frame: Callable[[WatchFrame], None]
    on_event: Callable[[WatchEvent], None]
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
    handle_signals: bool = True  # the CLI ends on Ctrl-C/SIGTERM; an embedding program decides itself
    # Given each frame (`watch --autoscale`: it acts in a background task, never in the tick).
    autoscaler: Callable[[WatchFrame], None] | None = None
    tracks: dict[tuple[str, str], ContainerTrack] = field(default_factory=dict)
    recent: deque[WatchEvent] = field(default_factory=lambda: deque(maxlen=MAX_RECENT_EVENTS))
    oom_seen: bool = False
    emergency_seen: bool = False
    host_emergency: bool = False

    def _record(self, event: WatchEvent) -> None:
        if event.type is WatchEventType.OOM:
            self.oom_seen = True
            track = self.tracks.get((event.engine, str(event.details.get("container_id", ""))))
            if track is not None:
                now, source = anyio.current_time(), str(event.details.get("seen_by", ""))
                if now - track.last_oom_event < OOM_DEDUPE_SECONDS and source != track.last_oom_source:
                    track.last_oom_event = -math.inf  # the other source's report of the same kill
                    return
                track.last_oom_event, track.last_oom_source = now, source
                track.oom_kills += 1
        if event.type is WatchEventType.EMERGENCY:
            self.emergency_seen = True
        self.recent.append(event)
        self.on_event(event)

    async def run(self, duration_seconds: float | None) -> WatchSummary:
        """Watch until the duration has passed (or forever), then give the summary."""
        # An engine that does not answer at the start is an error (exit 69), as for every
        # command; one that stops answering later is reported, and the watch carries on.
        feeds = [EngineFeed(name, client, self.settings, self._record) for name, client in self.engines]
        for feed in feeds:
            feed.project = self.project
            feed.memory_total_bytes = (await feed.client.system.info()).memory_total_bytes
        started = anyio.current_time()
        start_cpu_window()
        stopped_by: list[int] = []
        async with anyio.create_task_group() as tasks:
            if self.handle_signals:
                tasks.start_soon(cancel_on_signals, tasks.cancel_scope, stopped_by.append)
            for feed in feeds:
                tasks.start_soon(feed.run)
            for task in self.background:
                tasks.start_soon(task)
            with anyio.move_on_after(15):
                for feed in feeds:
                    await feed.listed_once.wait()
            while duration_seconds is None or anyio.current_time() - started < duration_seconds:
                tick = anyio.current_time()
                frame = self._tick(feeds, tick - started)
                self.on_frame(frame)
                if self.autoscaler is not None:
                    self.autoscaler(frame)
                elapsed = anyio.current_time() - tick
                remaining = (
                    None if duration_seconds is None else duration_seconds - (anyio.current_time() - started)
                )
                pause = max(0.0, self.settings.sample_interval_seconds - elapsed)
                if remaining is not None:
                    pause = min(pause, max(0.0, remaining))
                await anyio.sleep(pause)
            tasks.cancel_scope.cancel()
        return self.summary(stopped_by[0] if stopped_by else None)

    def summary(self, stopped_by_signal: int | None = None) -> WatchSummary:
        peaks = tuple(
            (
                engine,
                track.summary.name,
                track.peak_bytes,
                track.latest.memory_limit_bytes if track.latest else None,
            )
            for (engine, _), track in sorted(
                self.tracks.items(), key=lambda item: (item[0][0], item[1].summary.name)
            )
        )
        return WatchSummary(peaks, self.oom_seen, self.emergency_seen, stopped_by_signal)

    def _tick(self, feeds: Sequence[EngineFeed], elapsed: float) -> WatchFrame:
        now = anyio.current_time()
        thresholds = Thresholds.from_settings(self.settings)
        policy = leak_policy(self.settings)
        host = read_host_memory(host_cpu_since_start())
        rows: list[WatchedContainer] = []
        live_keys: set[tuple[str, str]] = set()
        for feed in feeds:
            engine_total = feed.memory_total_bytes or host.memory_total_bytes
            for container_id, (stats, cgroup_ooms) in feed.read(now).items():
                summary = feed.containers.get(container_id)
                if summary is None:
                    continue
                key = (feed.name, container_id)
                live_keys.add(key)
                track = self.tracks.get(key)
                if track is None:
                    track = self.tracks[key] = ContainerTrack(summary, self.settings.leak_window_seconds)
                track.add(now, stats)
                rows.append(self._judge(feed, track, stats, engine_total, thresholds, policy, cgroup_ooms))
        for key in list(self.tracks):
            if key not in live_keys and not any(
                feed.name == key[0] and key[1] in feed.containers for feed in feeds
            ):
                self.tracks.pop(key)  # gone: bounded memory over hours of containers coming and going
        self._judge_host(host, thresholds)
        engines = tuple(EngineStatus(f.name, f.memory_total_bytes, f.source, f.up) for f in feeds)
        frame = WatchFrame(
            datetime.now(UTC), elapsed, host, engines, tuple(sorted(rows, key=_row_order)), tuple(self.recent)
        )
        return frame

    def _judge(
        self,
        feed: EngineFeed,
        track: ContainerTrack,
        stats: ContainerStats,
        engine_total: int,
        thresholds: Thresholds,
        policy: LeakPolicy,
        cgroup_ooms: int | None,
    ) -> WatchedContainer:
        name = track.summary.name
        limit = stats.memory_limit_bytes
        if limit is not None and limit >= engine_total * 0.998:
            limit = None
        percent = None if limit is None else round(100.0 * stats.memory_usage_bytes / limit, 2)
        level = thresholds.level_for(
            100.0 * stats.memory_usage_bytes / (limit if limit is not None else engine_total)
        )
        track.level = level
        if cgroup_ooms is not None:
            if track.cgroup_oom_count is not None and cgroup_ooms > track.cgroup_oom_count:
                self._record(
                    WatchEvent(
                        WatchEventType.OOM,
                        datetime.now(UTC),
                        feed.name,
                        name,
                        f"OOM kill in {name}",
                        {
                            "container_id": track.summary.id,
                            "seen_by": "cgroup",
                            "service": track.summary.service,
                        },
                    )
                )
            track.cgroup_oom_count = cgroup_ooms
        high = self.settings.high_memory_percent
        if percent is not None and percent >= high and not track.warned:
            track.warned = True
            self._record(
                self._container_event(
                    feed, track, WatchEventType.WARNING,
                    f"{name} at {percent:.1f}% of its {format_bytes(limit or 0)} limit", stats,
                )
            )  # fmt: skip
        elif track.warned and (percent is None or percent < high - RECOVERY_MARGIN_PERCENT):
            track.warned = False
            self._record(
                self._container_event(
                    feed, track, WatchEventType.RECOVERED, f"{name} back below {high:g}%", stats
                )
            )
        if level is ThresholdLevel.EMERGENCY and not track.emergency:
            track.emergency = True
            self._record(
                self._container_event(feed, track, WatchEventType.EMERGENCY, f"{name} is at EMERGENCY", stats)
            )
        elif level < ThresholdLevel.CRITICAL:
            track.emergency = False
        fit = track.fit
        leaking = fit is not None and is_leak(fit, limit, policy)
        if leaking and not track.leaking and fit is not None:
            remaining = None if limit is None else fit.seconds_to(limit)
            message = describe_leak(track.summary.service or name, fit, limit)
            self._record(
                self._container_event(
                    feed, track, WatchEventType.LEAK, message, stats,
                    mib_per_minute=round(fit.mib_per_minute, 3),
                    seconds_to_limit=None if remaining is None else round(remaining, 1),
                    r_squared=round(fit.r_squared, 4),
                )
            )  # fmt: skip
        track.leaking = leaking
        seconds_to_limit = None
        if fit is not None and limit is not None and fit.slope_bytes_per_second > 0 and leaking:
            seconds_to_limit = fit.seconds_to(limit)
        return WatchedContainer(
            engine=feed.name,
            id=track.summary.id,
            name=name,
            project=track.summary.project,
            service=track.summary.service,
            memory_usage_bytes=stats.memory_usage_bytes,
            memory_limit_bytes=limit,
            memory_percent=percent,
            cpu_percent=stats.cpu_percent,
            level=level,
            trend_mib_per_minute=None if fit is None else round(fit.mib_per_minute, 2),
            seconds_to_limit=None if seconds_to_limit is None else round(seconds_to_limit, 1),
            leaking=leaking,
            recent_usage=track.history.peaks(),
            peak_bytes=track.peak_bytes,
            oom_kills=track.oom_kills,
        )

    def _judge_host(self, host: HostMemory, thresholds: Thresholds) -> None:
        level = thresholds.level_for(host.memory_percent)
        if level is ThresholdLevel.EMERGENCY and not self.host_emergency:
            self.host_emergency = True
            self._record(
                WatchEvent(
                    WatchEventType.EMERGENCY, datetime.now(UTC), "", None,
                    f"host memory at EMERGENCY ({host.memory_percent:.1f}%)",
                )
            )  # fmt: skip
        elif level < ThresholdLevel.CRITICAL:
            self.host_emergency = False

    def _container_event(
        self,
        feed: EngineFeed,
        track: ContainerTrack,
        kind: WatchEventType,
        message: str,
        stats: ContainerStats,
        **details: Any,
    ) -> WatchEvent:
        return WatchEvent(
            kind,
            datetime.now(UTC),
            feed.name,
            track.summary.name,
            message,
            {
                "container_id": track.summary.id,
                "service": track.summary.service,
                "memory_usage_bytes": stats.memory_usage_bytes,
                "memory_limit_bytes": stats.memory_limit_bytes,
                **details,
            },
        )


def _track_order(item: tuple[tuple[str, str], ContainerTrack]) -> tuple[str, str]:
    return (item[0][0], item[1].summary.name)


def _row_order(row: WatchedContainer) -> tuple[str, str, str, str]:
    return (row.engine, row.project or "", row.service or "", row.name)
