"""The one vocabulary of a monitoring session, the same behind `up`, `watch`, the Python API and
the pytest plugin: a `Frame` is every watched container's memory at one tick, an `Event` is
something that happened (the `type` of a `watch --json` line)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any

from dockermem.core.host import HostMemory
from dockermem.core.snapshot import ContainerMemory
from dockermem.core.thresholds import ThresholdLevel
from dockermem.units import name_order


class EventType(Enum):
    """What happened. Memory: warning, recovered, critical, emergency, oom, leak, leak-cleared. A container's
    life: started, healthy, unhealthy, exited, gone. The session's own doing or trouble:
    scaled, cleanup, stream-restarted, engine-down, error, notice."""

    WARNING = "warning"  # a container crossed `high_memory_percent` (80) of its limit
    RECOVERED = "recovered"  # ... and fell back below it (less a margin)
    CRITICAL = "critical"  # the host or an engine reached CRITICAL (75 %)
    EMERGENCY = "emergency"  # a container, the host or an engine reached EMERGENCY (90 %)
    OOM = "oom"
    LEAK = "leak"  # steady growth toward the limit, with what it rests on
    LEAK_CLEARED = "leak-cleared"  # ... taken back: memory fell, or stopped growing
    STARTED = "started"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    EXITED = "exited"
    GONE = "gone"
    SCALED = "scaled"
    CLEANUP = "cleanup"  # the emergency cleanup removed stale resources
    STREAM_RESTARTED = "stream-restarted"
    ENGINE_DOWN = "engine-down"
    ERROR = "error"  # work of the session's own that failed (a cleanup, a scaling call)
    NOTICE = "notice"  # what the session cannot see here, said once (the kernel log unreadable)


# The events that mean memory ran out or nearly did: a watch that saw one exits 1.
FAILING_EVENTS = frozenset({EventType.OOM, EventType.EMERGENCY})


@dataclass(frozen=True)
class Event:
    """Something that happened, on one engine, to one container (or to the host, an engine or
    the session itself: then `container` is None)."""

    type: EventType
    ts: datetime
    engine: str
    container: str | None  # the container's name
    message: str
    container_id: str | None = None
    project: str | None = None
    service: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def who(self) -> str:
        """The service, else the container, else the engine's name."""
        return self.service or self.container or self.engine or "the host"


@dataclass(frozen=True)
class WatchedContainer(ContainerMemory):
    """One container as a session watches it: its memory now, on which engine, and its course."""

    engine: str
    trend_mib_per_minute: float | None
    seconds_to_limit: float | None
    leaking: bool
    recent_usage: tuple[int, ...]
    peak_bytes: int
    oom_kills: int


@dataclass(frozen=True)
class EngineStatus:
    """One engine at one tick: its memory, where its figures come from, whether it answers,
    and what its watched containers hold against its memory."""

    name: str
    memory_total_bytes: int | None
    source: str
    up: bool
    containers_memory_bytes: int = 0
    level: ThresholdLevel = ThresholdLevel.SAFE

    @property
    def memory_percent(self) -> float | None:
        """The watched containers' memory as a percentage of the engine's."""
        if not self.memory_total_bytes:
            return None
        return round(100.0 * self.containers_memory_bytes / self.memory_total_bytes, 2)


@dataclass(frozen=True)
class Frame:
    """Everything a session saw at one tick."""

    ts: datetime
    elapsed_seconds: float
    host: HostMemory
    host_level: ThresholdLevel
    engines: tuple[EngineStatus, ...]
    containers: tuple[WatchedContainer, ...]

    @property
    def containers_memory_bytes(self) -> int:
        return sum(container.memory_usage_bytes for container in self.containers)


@dataclass(frozen=True)
class ContainerPeak:
    """The most memory one container held while the session watched it."""

    engine: str
    name: str
    project: str | None
    service: str | None
    peak_bytes: int
    limit_bytes: int | None
    oom_kills: int = 0


@dataclass(frozen=True)
class SessionSummary:
    """How a session went: each container's peak, whether memory ran out, and its notable
    events (the latest few hundred)."""

    elapsed_seconds: float
    peaks: tuple[ContainerPeak, ...]
    oom_seen: bool
    emergency_seen: bool
    events: tuple[Event, ...] = ()

    @classmethod
    def empty(cls) -> SessionSummary:
        """The summary of a run that watched nothing (a start the preflight refused)."""
        return cls(0.0, (), False, False)

    def service_peaks(self) -> dict[str, ContainerPeak]:
        """Per service (a container without one by its name), in name order: the highest peak
        of its containers, with the limit of the one that held it, and the OOM kills of them all."""
        by_service: dict[str, ContainerPeak] = {}
        kills: dict[str, int] = {}
        for peak in self.peaks:
            key = peak.service or peak.name
            kills[key] = kills.get(key, 0) + peak.oom_kills
            if key not in by_service or peak.peak_bytes > by_service[key].peak_bytes:
                by_service[key] = peak
        return {
            key: replace(by_service[key], oom_kills=kills[key]) for key in sorted(by_service, key=name_order)
        }
