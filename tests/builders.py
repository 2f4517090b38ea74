"""Small builders of the core's records for the tests of its decisions: containers as docker
lists them, readings, frames and moments on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dockermem.core.events import EngineStatus, Frame, WatchedContainer
from dockermem.core.host import HostMemory
from dockermem.core.judge import ContainerReading, EngineReading, Moment
from dockermem.core.thresholds import ThresholdLevel, Thresholds
from dockermem.docker.models import ContainerEvent, ContainerStats, ContainerSummary

MIB = 1024**2
GIB = 1024**3
START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ENGINE_TOTAL = 16 * GIB


def at(seconds: float) -> Moment:
    """A moment `seconds` after the test's start, on the session's clock and the wall alike."""
    return Moment(1000.0 + seconds, START + timedelta(seconds=seconds))


def host(percent: float = 10.0, total: int = ENGINE_TOTAL) -> HostMemory:
    used = int(total * percent / 100)
    return HostMemory(total, used, total - used, percent, 5.0)


def summary(
    name: str, service: str | None = None, project: str | None = "shop", cid: str = ""
) -> ContainerSummary:
    """A running container as `docker ps` lists it (its ID made from its name unless given)."""
    container_id = cid or (name.encode().hex() * 8)[:64]
    return ContainerSummary(
        id=container_id, name=name, image="img", state="running", status="Up", created_at=None,
        project=project, service=service, working_dir="/w" if project else None,
        config_files="/w/c.yaml" if project else None,
    )  # fmt: skip


def reading(container: ContainerSummary, usage_mib: float, limit_mib: float | None = None,
            oom_kills: int | None = None) -> ContainerReading:  # fmt: skip
    usage = int(usage_mib * MIB)
    limit = None if limit_mib is None else int(limit_mib * MIB)
    stats = ContainerStats(
        container.id, container.name, usage, limit, None if limit is None else 100 * usage / limit, 1.0, None
    )
    return ContainerReading(container, stats, oom_kills)


def engine(*readings: ContainerReading, listed: tuple[ContainerSummary, ...] | None = None,
           name: str = "default", total: int = ENGINE_TOTAL) -> EngineReading:  # fmt: skip
    """One engine's tick: the listed containers are those read, unless given."""
    shown = tuple(r.summary for r in readings) if listed is None else listed
    return EngineReading(name, total, "cgroup", True, shown, tuple(readings))


def event(
    action: str, container: ContainerSummary, seconds: float, exit_code: int | None = None
) -> ContainerEvent:
    return ContainerEvent(
        START + timedelta(seconds=seconds), action, container.id, container.name, container.project,
        container.service, exit_code,
    )  # fmt: skip


def watched(name: str, service: str | None, usage_mib: float, limit_mib: float | None = None,
            project: str = "shop", level: ThresholdLevel | None = None) -> WatchedContainer:  # fmt: skip
    usage = int(usage_mib * MIB)
    limit = None if limit_mib is None else int(limit_mib * MIB)
    percent = None if limit is None else round(100 * usage / limit, 2)
    if level is None:
        level = Thresholds().level_for(100 * usage / (limit or ENGINE_TOTAL))
    return WatchedContainer(
        id=name, name=name, project=project, service=service, memory_usage_bytes=usage,
        memory_limit_bytes=limit, memory_percent=percent, cpu_percent=None, level=level, engine="default",
        trend_mib_per_minute=None, seconds_to_limit=None, leaking=False, recent_usage=(usage,),
        peak_bytes=usage, oom_kills=0,
    )  # fmt: skip


def frame(*containers: WatchedContainer, host_percent: float = 10.0, seconds: float = 0.0,
          engine_level: ThresholdLevel = ThresholdLevel.SAFE) -> Frame:  # fmt: skip
    used = sum(c.memory_usage_bytes for c in containers)
    status = EngineStatus("default", ENGINE_TOTAL, "cgroup", True, used, engine_level)
    memory = host(host_percent)
    return Frame(
        START + timedelta(seconds=seconds),
        seconds,
        memory,
        Thresholds().level_for(host_percent),
        (status,),
        containers,
    )
