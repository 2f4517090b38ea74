"""The host's memory and CPU, through psutil.

Host CPU is the busy share of all CPUs over a window (from `/proc/stat`, as `vmstat` and
`top` read it), less dockermem's own work over the window: its own process and the docker
commands it ran (reaped children). Without that, a window as short as a snapshot measures
mostly dockermem itself."""

from __future__ import annotations

from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class HostMemory:
    """The machine dockermem runs on: memory in bytes, and CPU busy percentage."""

    memory_total_bytes: int
    memory_used_bytes: int
    memory_available_bytes: int
    memory_percent: float
    cpu_percent: float


def read_host_memory(cpu_percent: float) -> HostMemory:
    """Host memory now; `used` is total less available, as the kernel reckons what is free."""
    memory = psutil.virtual_memory()
    used = memory.total - memory.available
    return HostMemory(
        memory_total_bytes=memory.total,
        memory_used_bytes=used,
        memory_available_bytes=memory.available,
        memory_percent=round(100.0 * used / memory.total, 2),
        cpu_percent=cpu_percent,
    )


@dataclass(frozen=True)
class CpuMarks:
    """CPU time so far, in seconds: all CPUs', their busy part, and dockermem's own."""

    total: float
    busy: float
    own: float

    @classmethod
    def now(cls) -> CpuMarks:
        times = psutil.cpu_times()
        # Guest time is counted in user time already (as psutil's own cpu_percent reckons).
        total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
        idle = times.idle + getattr(times, "iowait", 0.0)
        own = psutil.Process().cpu_times()
        return cls(total, total - idle, own.user + own.system + own.children_user + own.children_system)


def busy_percent_between(start: CpuMarks, end: CpuMarks) -> float:
    """The share of all CPUs busy between two marks with dockermem's own work left out
    (0.0 when no time passed)."""
    total = end.total - start.total
    if total <= 0:
        return 0.0
    others = (end.busy - start.busy) - (end.own - start.own)
    return round(min(100.0, max(0.0, 100.0 * others / total)), 1)


class HostCpu:
    """Host CPU over consecutive windows: `start()`, then each `busy_percent()` ends a window
    and begins the next."""

    def __init__(self) -> None:
        self._marks: CpuMarks | None = None

    def start(self) -> None:
        self._marks = CpuMarks.now()

    def busy_percent(self) -> float:
        marks = CpuMarks.now()
        percent = 0.0 if self._marks is None else busy_percent_between(self._marks, marks)
        self._marks = marks
        return percent
