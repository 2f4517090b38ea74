"""The host's memory and CPU, through psutil."""

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


def start_cpu_window() -> None:
    """Begin measuring host CPU; `read_host_memory(host_cpu_since_start())` ends the window."""
    psutil.cpu_percent(interval=None)


def host_cpu_since_start() -> float:
    """Host CPU busy percentage since `start_cpu_window` (or the previous call)."""
    return float(psutil.cpu_percent(interval=None))
