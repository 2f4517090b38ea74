"""A snapshot of memory and Docker resources: the data behind `health` and `stats`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

import anyio

from dockermem.clock import current_clock
from dockermem.config import Settings
from dockermem.core.concurrency import Slot
from dockermem.core.engine_cache import (
    cached_cgroup_layouts,
    cached_engine_info,
    fresh_engine_info,
    is_local_engine,
    keep_cgroup_layouts,
)
from dockermem.core.host import HostCpu, HostMemory, read_host_memory
from dockermem.core.readings import (
    SOURCE_CGROUP,
    ContainerCpuMarks,
    Readings,
    early_cpu_marks,
    read_containers,
)
from dockermem.core.thresholds import ThresholdLevel, Thresholds, worst_level
from dockermem.docker.cgroup import CgroupLayout
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ContainerStats, ContainerSummary, EngineInfo, NamedResource
from dockermem.units import name_order

if TYPE_CHECKING:
    from dockermem.core.postmortem import PostMortem

# docker stats shows the engine's memory as the limit of a container that has none; limits
# within this fraction of it are taken as "no limit" (stats rounds to four digits).
NO_LIMIT_TOLERANCE = 0.002


@dataclass(frozen=True)
class ContainerMemory:
    """One running container's memory against its limit."""

    id: str
    name: str
    project: str | None
    service: str | None
    memory_usage_bytes: int
    memory_limit_bytes: int | None
    memory_percent: float | None
    cpu_percent: float | None
    level: ThresholdLevel

    @property
    def has_limit(self) -> bool:
        return self.memory_limit_bytes is not None


@dataclass(frozen=True)
class ResourceCount:
    """How many of one Docker resource exist, against the configured maximum."""

    kind: str
    used: int
    maximum: int
    level: ThresholdLevel

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.maximum


@dataclass(frozen=True)
class ResourceSnapshot:
    """Host, engine and container memory, and resource counts, at one moment."""

    taken_at: datetime
    project: str | None
    host: HostMemory
    host_memory_level: ThresholdLevel
    host_cpu_level: ThresholdLevel
    engine: EngineInfo
    max_memory_bytes: int
    counts: tuple[ResourceCount, ...]
    containers: tuple[ContainerMemory, ...]
    source: str = "docker-stats"
    high_memory: tuple[ContainerMemory, ...] = field(default=())
    post_mortem: PostMortem | None = None  # the kernel's logged OOM kills (`health` asks for them)
    thresholds: Thresholds = field(default_factory=Thresholds)  # what the levels were judged by

    @property
    def containers_memory_bytes(self) -> int:
        return sum(container.memory_usage_bytes for container in self.containers)

    @property
    def memory_includes_cache(self) -> bool:
        """Some figures came from `docker stats` of an engine whose stats count the page cache
        (Podman's): they are higher than the kernel's, which the cgroup path reads."""
        return self.engine.stats_include_cache and self.source != SOURCE_CGROUP and bool(self.containers)

    @property
    def levels(self) -> list[tuple[str, ThresholdLevel]]:
        """Each row the snapshot shows, named, with its level."""
        return [
            ("System memory", self.host_memory_level),
            ("System CPU", self.host_cpu_level),
            *((count.kind.capitalize(), count.level) for count in self.counts),
            *((container.name, container.level) for container in self.containers),
        ]

    @property
    def worst_level(self) -> ThresholdLevel:
        """The highest level of any row the snapshot shows (host memory and CPU, the counts,
        the containers): what `health`'s verdict and exit code follow."""
        return worst_level([level for _, level in self.levels])

    @property
    def worst_rows(self) -> list[str]:
        """The rows at the worst level (none when all are SAFE)."""
        worst = self.worst_level
        return [] if worst is ThresholdLevel.SAFE else [name for name, level in self.levels if level is worst]


def container_memory(
    stats: ContainerStats,
    summary: ContainerSummary | None,
    engine_memory_bytes: int,
    thresholds: Thresholds,
) -> ContainerMemory:
    """Join a stats line with the container's compose labels, and give it its level.

    A container without a limit can use all of the engine's memory: its level is measured
    against that, while its percentage stays null (it has no limit to be a percentage of).
    """
    limit = stats.memory_limit_bytes
    if limit is not None and limit >= engine_memory_bytes * (1 - NO_LIMIT_TOLERANCE):
        limit = None
    if limit is not None:
        exact = 100.0 * stats.memory_usage_bytes / limit
        percent: float | None = round(exact, 2)
        level = thresholds.level_for(exact)
    else:
        percent = None
        level = thresholds.level_for(100.0 * stats.memory_usage_bytes / engine_memory_bytes)
    return ContainerMemory(
        id=stats.id if summary is None else summary.id,
        name=stats.name if summary is None else summary.name,
        project=None if summary is None else summary.project,
        service=None if summary is None else summary.service,
        memory_usage_bytes=stats.memory_usage_bytes,
        memory_limit_bytes=limit,
        memory_percent=percent,
        cpu_percent=stats.cpu_percent,
        level=level,
    )


def count_resources(
    settings: Settings,
    thresholds: Thresholds,
    containers: list[ContainerSummary],
    networks: list[NamedResource],
    volumes: list[NamedResource],
) -> tuple[ResourceCount, ...]:
    """Containers, networks and volumes against DOCKER_MAX_CONTAINERS/NETWORKS/VOLUMES."""
    figures = (
        ("containers", len(containers), settings.max_containers),
        ("networks", len(networks), settings.max_networks),
        ("volumes", len(volumes), settings.max_volumes),
    )
    return tuple(
        ResourceCount(kind, used, maximum, thresholds.level_for(100.0 * used / maximum))
        for kind, used, maximum in figures
    )


@dataclass(frozen=True)
class SnapshotStart:
    """What a snapshot reads before docker answers: its host CPU window, opened first, the
    cgroup layouts known of the engine, and each container's CPU time that the fast path finds
    without docker (its CPU window has mostly passed once docker has listed the containers)."""

    host_cpu: HostCpu
    layouts: list[CgroupLayout]
    early_cpu: ContainerCpuMarks | None


def begin_snapshot(client: DockerClient, settings: Settings, *, docker_calls: bool = True) -> SnapshotStart:
    """Begin a snapshot. With `docker_calls` (a command, before its event loop runs), the docker
    calls it makes (the containers, networks and volumes, and the engine's info when the cache
    has none fresh) start now and run while Python loads the event loop, some 90 ms, about what
    they take at 100 containers; `take_snapshot` takes them up."""
    host_cpu = HostCpu()
    host_cpu.start()
    if docker_calls:
        calls = [client.container.ls_args(), client.network.ls_args(), client.volume.ls_args()]
        if fresh_engine_info(client, settings) is None:
            calls += client.system.info_args()
        for args in calls:
            client.runner.start_early(args)
    layouts = cached_cgroup_layouts(client, settings)
    return SnapshotStart(host_cpu, layouts, early_cpu_marks(settings, layouts))


async def take_snapshot(
    client: DockerClient,
    settings: Settings,
    project: str | None = None,
    *,
    post_mortem: bool = False,
    start: SnapshotStart | None = None,
) -> ResourceSnapshot:
    """Read host, engine and container memory and the resource counts, all at once (and, with
    `post_mortem`, the OOM kills the kernel's log holds of the containers in scope).

    The engine info may come from the engine-info cache; the container counts come from this
    snapshot's own `docker ps --all`. `start` is what `begin_snapshot` began (it is begun here
    without it)."""
    thresholds = Thresholds.from_settings(settings)
    engine_slot: Slot[EngineInfo] = Slot()
    networks_slot: Slot[list[NamedResource]] = Slot()
    volumes_slot: Slot[list[NamedResource]] = Slot()
    if start is None:
        start = begin_snapshot(client, settings, docker_calls=False)
    host_cpu, layouts, early_cpu = start.host_cpu, start.layouts, start.early_cpu
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(engine_slot.fill, lambda: cached_engine_info(client, settings))
        tasks.start_soon(networks_slot.fill, client.network.ls)
        tasks.start_soon(volumes_slot.fill, client.volume.ls)
        all_containers = await client.container.ls()
        running = [
            c for c in all_containers if (project is None or c.project == project) and c.state == "running"
        ]
        readings = await read_containers(client, settings, running, early_cpu, layouts)
    if readings.learned:
        keep_cgroup_layouts(client, settings, [*layouts, *readings.learned])
    counts = count_resources(settings, thresholds, all_containers, networks_slot.value, volumes_slot.value)
    snapshot = _assemble(settings, project, engine_slot.value, running, readings, counts, host_cpu)
    if not post_mortem:
        return snapshot
    from dockermem.core.postmortem import read_post_mortem

    in_scope = [c for c in all_containers if project is None or c.project == project]
    return replace(snapshot, post_mortem=read_post_mortem(settings, in_scope, is_local_engine(client)))


def _assemble(
    settings: Settings,
    project: str | None,
    engine: EngineInfo,
    running: list[ContainerSummary],
    readings: Readings,
    counts: tuple[ResourceCount, ...],
    host_cpu: HostCpu,
) -> ResourceSnapshot:
    thresholds = Thresholds.from_settings(settings)
    host = read_host_memory(host_cpu.busy_percent())
    by_id = {c.id: c for c in running}
    containers = tuple(
        sorted(
            (
                container_memory(s, _summary_for(s.id, by_id), engine.memory_total_bytes, thresholds)
                for s in readings.stats
            ),
            key=lambda c: (c.project or "", c.service or "", name_order(c.name)),
        )
    )
    high = above_percent(containers, settings.high_memory_percent)
    return ResourceSnapshot(
        taken_at=current_clock().now(),
        project=project,
        host=host,
        host_memory_level=thresholds.level_for(host.memory_percent),
        host_cpu_level=thresholds.level_for(host.cpu_percent),
        engine=engine,
        max_memory_bytes=settings.max_memory_bytes,
        counts=counts,
        containers=containers,
        source=readings.source,
        high_memory=high,
        thresholds=thresholds,
    )


def above_percent(containers: Sequence[ContainerMemory], percent: float) -> tuple[ContainerMemory, ...]:
    """The containers at or above `percent` of their limit (`high_memory_percent`: stats' list)."""
    return tuple(c for c in containers if c.memory_percent is not None and c.memory_percent >= percent)


def _summary_for(stats_id: str, by_id: dict[str, ContainerSummary]) -> ContainerSummary | None:
    found = by_id.get(stats_id)
    if found is not None:
        return found
    return next((summary for cid, summary in by_id.items() if cid.startswith(stats_id)), None)
