"""The host's memory and CPU.

On Linux both come from /proc, as `free`, `vmstat` and `top` read them (and as psutil does
there: the figures are the same, without the 20 ms of psutil's import that a snapshot would
pay); psutil gives them on other systems.

Host CPU is the busy share of all CPUs over a window (from `/proc/stat`), less dockermem's own
work over the window: its own process and the docker commands it ran (reaped children).
Without that, a window as short as a snapshot measures mostly dockermem itself."""

from __future__ import annotations

import os
from dataclasses import dataclass

MEMINFO = "/proc/meminfo"
PROC_STAT = "/proc/stat"


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
    total, available = _memory_total_and_available()
    used = total - available
    return HostMemory(
        memory_total_bytes=total,
        memory_used_bytes=used,
        memory_available_bytes=available,
        memory_percent=round(100.0 * used / total, 2),
        cpu_percent=cpu_percent,
    )


def parse_meminfo(text: str) -> tuple[int, int] | None:
    """MemTotal and MemAvailable in bytes from /proc/meminfo's text; None when either is
    missing (MemAvailable came with Linux 3.14)."""
    kib: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("MemTotal", "MemAvailable"):
            kib[name] = int(value.split()[0])
    if len(kib) != 2 or kib["MemTotal"] <= 0:
        return None
    return kib["MemTotal"] * 1024, kib["MemAvailable"] * 1024


def parse_cpu_seconds(text: str, ticks_per_second: int) -> tuple[float, float] | None:
    """All CPUs' time and its busy part, in seconds, from /proc/stat's `cpu` line; None when
    the line is not there. Guest time is counted in user time already, and waiting on I/O is
    idle (as psutil's cpu_percent reckons both)."""
    for line in text.splitlines():
        fields = line.split()
        if fields[:1] == ["cpu"] and len(fields) >= 5:
            ticks = [int(field) for field in fields[1:]]
            guest = sum(ticks[8:10])  # guest, guest_nice (Linux 2.6.24, 2.6.33)
            idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle, iowait
            total = sum(ticks) - guest
            return total / ticks_per_second, (total - idle) / ticks_per_second
    return None


def _read_proc(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as file:
            return file.read()
    except OSError:
        return None


def _memory_total_and_available() -> tuple[int, int]:
    text = _read_proc(MEMINFO)
    found = None if text is None else parse_meminfo(text)
    if found is not None:
        return found
    import psutil

    memory = psutil.virtual_memory()
    return memory.total, memory.available


def _cpu_seconds() -> tuple[float, float]:
    """All CPUs' time and its busy part, in seconds, since boot."""
    text = _read_proc(PROC_STAT)
    found = None if text is None else parse_cpu_seconds(text, os.sysconf("SC_CLK_TCK"))
    if found is not None:
        return found
    import psutil

    times = psutil.cpu_times()
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return total, total - times.idle - getattr(times, "iowait", 0.0)


@dataclass(frozen=True)
class HostCpuMarks:
    """CPU time so far, in seconds: all CPUs', their busy part, and dockermem's own."""

    total: float
    busy: float
    own: float

    @classmethod
    def now(cls) -> HostCpuMarks:
        total, busy = _cpu_seconds()
        own = os.times()  # this process and the children it reaped (the docker commands)
        return cls(total, busy, own.user + own.system + own.children_user + own.children_system)


def busy_percent_between(start: HostCpuMarks, end: HostCpuMarks) -> float:
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
        self._marks: HostCpuMarks | None = None

    def start(self) -> None:
        self._marks = HostCpuMarks.now()

    def busy_percent(self) -> float:
        marks = HostCpuMarks.now()
        percent = 0.0 if self._marks is None else busy_percent_between(self._marks, marks)
        self._marks = marks
        return percent
