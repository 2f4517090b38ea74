"""Container memory readings: from the cgroup files when they can be read here (fast), else
from the `docker stats` stream. Either way, `ContainerStats` values come out."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from dockermem.config import Settings
from dockermem.docker.cgroup import CgroupLayout, CgroupLocation, CgroupReader, CgroupReading, OpenCgroupFiles
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ContainerStats, ContainerSummary

# The shortest window over which a container's CPU percentage is measured on the fast path.
# Its times are time.monotonic()'s: the event loop's clock on asyncio, and the same before a
# loop runs (a snapshot begun before it takes its first CPU marks there).
MIN_CPU_WINDOW_SECONDS = 0.05
SOURCE_CGROUP = "cgroup"
SOURCE_DOCKER_STATS = "docker-stats"
SOURCE_MIXED = "cgroup+docker-stats"


@dataclass(frozen=True)
class CpuMark:
    """One container's cgroup, and its CPU time when a measuring window started."""

    location: CgroupLocation
    cpu_ns: int


@dataclass(frozen=True)
class ContainerCpuMarks:
    """Containers' CPU times read at one moment: the start of a CPU measuring window."""

    taken_at: float
    by_container: dict[str, CpuMark]


def early_cpu_marks(settings: Settings, layouts: Sequence[CgroupLayout] = ()) -> ContainerCpuMarks | None:
    """The CPU time of every container the fast path finds without docker, read now: a
    snapshot takes these first, and its CPU window has mostly passed once docker has listed
    the containers (rather than starting then)."""
    reader = cgroup_reader(settings, layouts=layouts)
    if reader is None:
        return None
    taken_at = time.monotonic()
    marks: dict[str, CpuMark] = {}
    for location in reader.guessed_locations():
        cpu_ns = reader.read_cpu_ns(location)
        if cpu_ns is not None:
            marks[location.container_id] = CpuMark(location, cpu_ns)
    return ContainerCpuMarks(taken_at, marks)


@dataclass(frozen=True)
class Readings:
    """Memory of some running containers, where it was read, and the cgroup layouts learnt
    on the way (a daemon's own cgroup parent), for the next command."""

    stats: tuple[ContainerStats, ...]
    source: str
    learned: tuple[CgroupLayout, ...] = ()


def cgroup_reader(
    settings: Settings, *, keep_files_open: bool = False, layouts: Sequence[CgroupLayout] = ()
) -> CgroupReader | None:
    """The fast path's reader, unless it is turned off, knowing `layouts` besides the common
    ones. A reader that reads the same containers again and again (a watch) keeps their files
    open; its owner closes them."""
    if not settings.fast_path:
        return None
    open_files = OpenCgroupFiles() if keep_files_open else None
    return CgroupReader(Path(settings.proc_root), Path(settings.cgroup_root), open_files, list(layouts))


async def locate_cgroups(
    client: DockerClient,
    reader: CgroupReader,
    container_ids: Sequence[str],
    known: Mapping[str, CgroupLocation] | None = None,
) -> dict[str, CgroupLocation]:
    """The cgroup of each container that can be read here (the others are left out).
    Those `known` already are taken as they are, the known layouts are tried next; when some
    are in none of them (a daemon with its own `--cgroup-parent`), one container is located
    through its PID and its layout learnt, so that the others cost no `docker inspect`; only
    those still unfound are inspected, together."""
    known = known or {}
    locations = {
        cid: location
        for cid in container_ids
        if (location := known.get(cid) or reader.guess(cid)) is not None
    }
    unknown = [cid for cid in container_ids if cid not in locations]
    if len(unknown) > 1:
        first = await _locate_by_pid(client, reader, unknown[:1])
        if first:  # its layout is learnt: the others are guessed in it
            locations.update(first)
            locations.update((cid, found) for cid in unknown[1:] if (found := reader.guess(cid)) is not None)
        unknown = [cid for cid in container_ids if cid not in locations]
    if unknown:
        locations.update(await _locate_by_pid(client, reader, unknown))
    return locations


async def _locate_by_pid(
    client: DockerClient, reader: CgroupReader, container_ids: Sequence[str]
) -> dict[str, CgroupLocation]:
    """The containers' cgroups through their init PIDs (one `docker inspect` for them all)."""
    found = {}
    for container_id, pid in (await client.container.pids(container_ids)).items():
        location = reader.locate(container_id, pid)
        if location is not None:
            found[container_id] = location
    return found


def stats_from_cgroup(
    summary: ContainerSummary,
    reader: CgroupReader,
    location: CgroupLocation,
    cpu_start: tuple[int | None, float],
) -> ContainerStats | None:
    """A docker-stats-like value from one cgroup reading (None when the cgroup is gone)."""
    reading = reader.read(location)
    if reading is None:
        return None
    return cgroup_stats(summary, reading, cpu_start, time.monotonic())


def cgroup_stats(
    summary: ContainerSummary, reading: CgroupReading, cpu_start: tuple[int | None, float] | None, now: float
) -> ContainerStats:
    """A docker-stats-like value from one cgroup reading, its CPU % over the time since
    `cpu_start` (the container's CPU time then, and when it was read), as docker stats has it."""
    cpu: float | None = None
    if cpu_start is not None:
        start_ns, start_time = cpu_start
        elapsed = now - start_time
        # A container restarted within the window has a new cgroup, its CPU time counted from 0
        # again: less than at the start, so the window measures nothing (not a negative %).
        used_ns = (
            None if reading.cpu_usage_ns is None or start_ns is None else reading.cpu_usage_ns - start_ns
        )
        if used_ns is not None and used_ns >= 0 and elapsed > 0:
            cpu = round(100.0 * used_ns / (elapsed * 1e9), 2)
    limit = reading.memory_limit_bytes
    return ContainerStats(
        id=summary.id,
        name=summary.name,
        memory_usage_bytes=reading.memory_usage_bytes,
        memory_limit_bytes=limit,
        memory_percent=None if limit is None else round(100.0 * reading.memory_usage_bytes / limit, 2),
        cpu_percent=cpu,
        pids=None,
    )


async def read_containers(
    client: DockerClient,
    settings: Settings,
    running: Sequence[ContainerSummary],
    early_cpu: ContainerCpuMarks | None = None,
    layouts: Sequence[CgroupLayout] = (),
) -> Readings:
    """Memory and CPU of running containers, by the fastest path that works for each.
    CPU is measured over at least MIN_CPU_WINDOW_SECONDS, from `early_cpu` where it has them."""
    if not running:
        return Readings((), SOURCE_CGROUP if settings.fast_path else SOURCE_DOCKER_STATS)
    reader = cgroup_reader(settings, layouts=layouts)
    early = {} if early_cpu is None else early_cpu.by_container
    known = {cid: mark.location for cid, mark in early.items()}
    locations = {} if reader is None else await locate_cgroups(client, reader, [c.id for c in running], known)
    fast: list[ContainerStats] = []
    if reader is not None and locations:
        started = time.monotonic()
        marked_at = started if early_cpu is None else early_cpu.taken_at
        cpu_start: dict[str, tuple[int | None, float]] = {
            cid: (early[cid].cpu_ns, marked_at) if cid in early else (reader.read_cpu_ns(location), started)
            for cid, location in locations.items()
        }
        window_start = max(start for _, start in cpu_start.values())
        await anyio.sleep(max(0.0, window_start + MIN_CPU_WINDOW_SECONDS - time.monotonic()))
        for summary in running:
            location = locations.get(summary.id)
            if location is not None:
                reading = stats_from_cgroup(summary, reader, location, cpu_start[summary.id])
                if reading is not None:
                    fast.append(reading)
    read_fast = {stats.id for stats in fast}
    rest = [c.id for c in running if c.id not in read_fast]
    slow = await client.container.stats(rest) if rest else []
    source = SOURCE_MIXED if fast and slow else SOURCE_CGROUP if fast else SOURCE_DOCKER_STATS
    learned = () if reader is None else tuple(layout for layout in reader.learned if layout not in layouts)
    return Readings(tuple(fast) + tuple(slow), source, learned)
