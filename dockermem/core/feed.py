"""A session's feed from one engine: its running containers (listed at the start, again after
every container event, and every 30 s), its container events as they come, and each tick's
memory readings (the cgroup files where they can be read here, else the `docker stats`
stream). Streams that end are started again once the engine answers. Nothing here judges:
what the feed sees goes to its `FeedSink` (the session) and, at each tick, into an
`EngineReading` for the judge."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

import anyio

from dockermem.clock import Clock
from dockermem.config import Settings
from dockermem.core.judge import ContainerReading, EngineReading
from dockermem.core.readings import (
    SOURCE_CGROUP,
    SOURCE_DOCKER_STATS,
    SOURCE_MIXED,
    cgroup_reader,
    cgroup_stats,
    locate_cgroups,
)
from dockermem.docker.cgroup import CgroupLocation, CgroupReader, CgroupReading
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ContainerEvent, ContainerStats, ContainerSummary
from dockermem.errors import DockermemError, DockerUnavailableError

# The container list follows docker events; a full listing now and then catches what they missed.
REFRESH_SECONDS = 30.0
# The fast path reads a container's limit and OOM count at every this many ticks (memory every tick).
FULL_READ_EVERY = 5
RESTART_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0)
# The container events a session follows; a start, a death or a removal changes the list.
FOLLOWED_ACTIONS = ("oom", "create", "start", "die", "destroy", "health_status")
LIST_CHANGING_ACTIONS = frozenset({"start", "die", "destroy"})


class FeedSink(Protocol):
    """Where a feed says what it saw, as it sees it."""

    def engine_event(self, engine: str, event: ContainerEvent) -> None: ...

    def engine_down(self, engine: str, message: str) -> None: ...

    def engine_back(self, engine: str) -> None: ...

    def stream_restarted(self, engine: str, stream: str) -> None: ...


class EngineFeed:
    """One engine, for one session (one compose project's containers, or every container)."""

    def __init__(
        self,
        name: str,
        client: DockerClient,
        settings: Settings,
        project: str | None,
        since: datetime,
        sink: FeedSink,
        clock: Clock,
    ) -> None:
        self.name = name
        self.client = client
        self.project = project
        self.sink = sink
        self.clock = clock
        # Events are followed from the session's start; after a restart, from the restart on.
        self._events_since: datetime | None = since
        self.memory_total_bytes: int | None = None
        self.containers: dict[str, ContainerSummary] = {}
        self.up = True
        self.listed_once = anyio.Event()
        self.reader: CgroupReader | None = cgroup_reader(settings, keep_files_open=True)
        self._locations: dict[str, CgroupLocation | None] = {}
        self._cpu_marks: dict[str, tuple[int, float]] = {}
        self._stream_stats: dict[str, ContainerStats] = {}
        self._last_readings: dict[str, CgroupReading] = {}
        self._ticks = 0
        self._needs_stream = anyio.Event()
        self._refresh_wanted = anyio.Event()
        self._listing = anyio.Lock()
        self._down = False

    @property
    def source(self) -> str:
        """Where the figures come from: the cgroup files, `docker stats`, or both."""
        located = [location for location in self._locations.values() if location is not None]
        if located and len(located) == len(self._locations):
            return SOURCE_CGROUP
        if not self._locations:
            return SOURCE_CGROUP if self.reader is not None else SOURCE_DOCKER_STATS
        return SOURCE_DOCKER_STATS if not located else SOURCE_MIXED

    async def run(self) -> None:
        """List, follow events and (when some container cannot be read here) the stats stream,
        until cancelled."""
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._keep_listing)
                tasks.start_soon(self._keep_following, "events", self._follow_events)
                await self._needs_stream.wait()
                tasks.start_soon(self._keep_following, "stats", self._follow_stats)
        finally:
            if self.reader is not None and self.reader.open_files is not None:
                self.reader.open_files.close()

    async def refresh(self) -> None:
        """List the running containers now (and find the cgroups of new ones). One listing at
        a time: an older one never overwrites a newer."""
        async with self._listing:
            await self._refresh()

    async def _refresh(self) -> None:
        listed = {
            c.id: c for c in await self.client.container.ls(project=self.project) if c.state == "running"
        }
        new = list(listed.keys() - self.containers.keys())
        found = {} if self.reader is None or not new else await locate_cgroups(self.client, self.reader, new)
        for container_id in new:
            self._locations[container_id] = found.get(container_id)
            if self._locations[container_id] is None:
                self._needs_stream.set()
        for container_id in self.containers.keys() - listed.keys():
            location = self._locations.pop(container_id, None)
            if location is not None and self.reader is not None and self.reader.open_files is not None:
                self.reader.open_files.forget(location)
            self._cpu_marks.pop(container_id, None)
            self._last_readings.pop(container_id, None)
            self._stream_stats.pop(container_id, None)
        self.containers = listed

    def read(self, now: float, *, full: bool = False) -> EngineReading:
        """This tick's reading of every listed container that can be read: the cgroup files,
        else the latest line of the stats stream. `full` reads every cgroup file (the limit and
        the OOM count too, which are read every FULL_READ_EVERY ticks otherwise)."""
        self._ticks = 0 if full else self._ticks + 1
        readings = []
        for container_id, summary in self.containers.items():
            location = self._locations.get(container_id)
            if location is not None and self.reader is not None:
                reading = self._read_cgroup(now, summary, location)
                if reading is not None:
                    readings.append(reading)
            elif container_id in self._stream_stats:
                readings.append(ContainerReading(summary, self._stream_stats[container_id]))
        return EngineReading(
            name=self.name,
            memory_total_bytes=self.memory_total_bytes,
            source=self.source,
            up=self.up,
            listed=tuple(self.containers.values()),
            readings=tuple(readings),
            has_listed=self.listed_once.is_set(),
        )

    def oom_kills_now(self, container_id: str) -> int | None:
        """The OOM count of a container's cgroup, read now (None: it has none to read: gone, or
        not read by its cgroup); the ticks after go on from it."""
        location = self._locations.get(self._full_id(container_id))
        if location is None or self.reader is None:
            return None
        reading = self.reader.read(location, None)
        if reading is None:
            return None
        self._last_readings[location.container_id] = reading
        return reading.oom_kills

    def _read_cgroup(
        self, now: float, summary: ContainerSummary, location: CgroupLocation
    ) -> ContainerReading | None:
        assert self.reader is not None
        container_id = summary.id
        previous = self._last_readings.get(container_id) if self._ticks % FULL_READ_EVERY else None
        reading = self.reader.read(location, previous)
        if reading is None:
            return None  # the cgroup went away: the container stopped
        self._last_readings[container_id] = reading
        stats = cgroup_stats(summary, reading, self._cpu_marks.get(container_id), now)
        if reading.cpu_usage_ns is not None:
            self._cpu_marks[container_id] = (reading.cpu_usage_ns, now)
        return ContainerReading(summary, stats, reading.oom_kills)

    async def _keep_listing(self) -> None:
        while True:
            try:
                await self.refresh()
                if self.memory_total_bytes is None:
                    self.memory_total_bytes = (await self.client.system.info()).memory_total_bytes
                self._engine_back()
            except DockerUnavailableError as error:
                self._engine_down(str(error))
            except DockermemError:
                pass  # one failed listing; the next refresh tries again
            self.listed_once.set()
            with anyio.move_on_after(REFRESH_SECONDS):
                await self._refresh_wanted.wait()
            self._refresh_wanted = anyio.Event()

    async def _keep_following(self, what: str, follow: Callable[[], Awaitable[None]]) -> None:
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
            self._refresh_wanted.set()
            self.sink.stream_restarted(self.name, what)

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
        since, self._events_since = self._events_since or self.clock.now(), None
        async with self.client.events.follow(since, project=self.project, actions=FOLLOWED_ACTIONS) as events:
            self._engine_back()
            async for event in events:
                if event.action in LIST_CHANGING_ACTIONS:
                    self._refresh_wanted.set()
                self.sink.engine_event(self.name, event)

    async def _follow_stats(self) -> None:
        async with self.client.container.stats_stream() as readings:
            async for stats in readings:
                self._stream_stats[self._full_id(stats.id)] = stats

    def _full_id(self, short_id: str) -> str:
        if short_id in self.containers:
            return short_id
        return next((cid for cid in self.containers if cid.startswith(short_id)), short_id)

    def _engine_down(self, message: str) -> None:
        self.up = False
        if not self._down:
            self._down = True
            self.sink.engine_down(self.name, message)

    def _engine_back(self) -> None:
        self.up = True
        if self._down:
            self._down = False
            self.sink.engine_back(self.name)
