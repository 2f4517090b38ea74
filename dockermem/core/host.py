"""The host's memory and CPU, through psutil."""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
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


async def measure_host(cpu_window_seconds: float = 0.5) -> HostMemory:
    """Host memory, with CPU measured over a short window in a worker thread."""
    cpu = await anyio.to_thread.run_sync(psutil.cpu_percent, cpu_window_seconds)
    return read_host_memory(cpu)
