"""The memory monitor that runs beside `docker compose up`: samples memory at an interval,
follows `docker events` for OOM kills and deaths, warns at CRITICAL and cleans up at EMERGENCY."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

import anyio

from dockermem.config import Settings
from dockermem.core.cleanup import CleanupScope, apply_cleanup, plan_cleanup
from dockermem.core.counters import add_to_counters
from dockermem.core.engine_cache import cached_engine_info
from dockermem.core.oom import MemorySample
from dockermem.core.snapshot import ResourceSnapshot, sample_memory
from dockermem.core.thresholds import ThresholdLevel, Thresholds
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ContainerEvent, EngineInfo
from dockermem.errors import DockermemError
from dockermem.units import format_bytes


class UpdateKind(Enum):
    """What a monitor update is about."""

    SAMPLE = "sample"
    WARNING = "warning"
    EMERGENCY = "emergency"
    CLEANUP = "cleanup"
    OOM = "oom"
    DIE = "die"
    STATE = "state"  # a container started, or its health changed
    ERROR = "error"


@dataclass(frozen=True)
class MonitorUpdate:
    """One thing the monitor saw, for the progress display."""

    at: datetime
    kind: UpdateKind
    message: str
    snapshot: ResourceSnapshot | None = None


def engine_percent(snapshot: ResourceSnapshot) -> float:
    """Memory in the engine's containers, as a percentage of the engine's memory."""
    return 100.0 * snapshot.containers_memory_bytes / snapshot.engine.memory_total_bytes


@dataclass
class StartupMonitor:
    """Samples and events for one compose project while it starts; never prints."""

    client: DockerClient
    settings: Settings
    project: str
    on_update: Callable[[MonitorUpdate], None]
    last_samples: dict[str, MemorySample] = field(default_factory=dict)
    peaks: dict[str, int] = field(default_factory=dict)
    last_snapshot: ResourceSnapshot | None = None
    # Called with each sample after it is judged (the autoscaler of `up --autoscale`).
    after_sample: Callable[[ResourceSnapshot], Awaitable[None]] | None = None
    # Called with every event followed: OOM kills, deaths, creations, starts, health changes.
    on_event: Callable[[ContainerEvent], None] | None = None
    _critical_episode: bool = False
    _emergency_episode: bool = False

    async def run(self, since: datetime) -> None:
        """Sample and follow events until cancelled."""
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._follow_events, since)
            await self._sample_forever()

    async def _sample_forever(self) -> None:
        engine: EngineInfo | None = None
        while True:
            started = anyio.current_time()
            try:
                if engine is None:
                    # Mostly a hit (up's preflight has just asked): no `docker info` competing
                    # with compose for the CPUs; each sample's `docker ps` still asks the engine.
                    engine = await cached_engine_info(self.client, self.settings)
                snapshot = await sample_memory(self.client, self.settings, self.project, engine)
            except DockermemError as error:
                self._emit(UpdateKind.ERROR, f"memory sample failed: {error}")
            else:
                await self.record(snapshot)
                if self.after_sample is not None:
                    await self.after_sample(snapshot)
            elapsed = anyio.current_time() - started
            await anyio.sleep(max(0.1, self.settings.sample_interval_seconds - elapsed))

    async def record(self, snapshot: ResourceSnapshot) -> None:
        """Keep the samples and peaks; warn at CRITICAL, clean up at EMERGENCY (once an episode)."""
        self.last_snapshot = snapshot
        for container in snapshot.containers:
            self.last_samples[container.id] = MemorySample(
                snapshot.taken_at, container.memory_usage_bytes, container.memory_limit_bytes
            )
            self.peaks[container.id] = max(self.peaks.get(container.id, 0), container.memory_usage_bytes)
        self._emit(UpdateKind.SAMPLE, "", snapshot)
        thresholds = Thresholds.from_settings(self.settings)
        host_percent = snapshot.host.memory_percent
        level = max(snapshot.host_memory_level, thresholds.level_for(engine_percent(snapshot)))
        if level >= ThresholdLevel.CRITICAL and not self._critical_episode:
            self._critical_episode = True
            self._emit(
                UpdateKind.WARNING,
                f"memory is {level.value.upper()}: host {host_percent:.1f}% used, "
                f"engine {engine_percent(snapshot):.1f}% in containers",
            )
        elif level < ThresholdLevel.CRITICAL:
            self._critical_episode = False
        if level >= ThresholdLevel.EMERGENCY and not self._emergency_episode:
            self._emergency_episode = True
            await self._emergency_cleanup()
        elif level < ThresholdLevel.EMERGENCY:
            self._emergency_episode = False

    async def _emergency_cleanup(self) -> None:
        self._emit(UpdateKind.EMERGENCY, "memory at EMERGENCY: removing stale resources of this project")
        scope = CleanupScope(project=self.project)
        try:
            plan = await plan_cleanup(self.client, scope, datetime.now(UTC))
            outcome = await apply_cleanup(self.client, plan)
        except DockermemError as error:
            self._emit(UpdateKind.ERROR, f"emergency cleanup failed: {error}")
            return
        add_to_counters(self.settings.state_path, outcome.counters)
        self._emit(
            UpdateKind.CLEANUP,
            f"emergency cleanup removed {len(outcome.removed_containers)} containers, "
            f"{len(outcome.removed_networks)} networks",
        )

    async def _follow_events(self, since: datetime) -> None:
        try:
            async with self.client.events.follow(
                since, project=self.project, actions=("oom", "die", "create", "start", "health_status")
            ) as events:
                async for event in events:
                    self._on_event(event)
                    if self.on_event is not None:
                        self.on_event(event)
        except DockermemError as error:
            self._emit(UpdateKind.ERROR, f"docker events stopped: {error}")

    def _on_event(self, event: ContainerEvent) -> None:
        who = event.service or event.name or event.container_id[:12]
        if event.action == "oom":
            sample = self.last_samples.get(event.container_id) or next(
                (s for key, s in self.last_samples.items() if key.startswith(event.container_id)), None
            )
            memory = "" if sample is None else f" (last sample {format_bytes(sample.usage_bytes)})"
            self._emit(UpdateKind.OOM, f"OOM kill in {who}{memory}")
        elif event.action == "die":
            self._emit(UpdateKind.DIE, f"{who} exited with code {event.exit_code}")
        elif event.action == "start":
            self._emit(UpdateKind.STATE, f"{who} started")
        elif event.action.startswith("health_status"):
            self._emit(UpdateKind.STATE, f"{who} {event.action.partition(':')[2].strip()}")

    def _emit(self, kind: UpdateKind, message: str, snapshot: ResourceSnapshot | None = None) -> None:
        self.on_update(MonitorUpdate(datetime.now(UTC), kind, message, snapshot))
