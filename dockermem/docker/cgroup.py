"""Container memory read straight from the kernel's cgroup files: the fast path.

`docker stats` takes about 2 s for one reading because the daemon samples twice; the same
figures sit in each container's cgroup, readable in microseconds when the engine is local.
Usage is computed as `docker stats` does: cgroup v1 `memory.usage_in_bytes` less
`total_inactive_file`; cgroup v2 `memory.current` less `inactive_file`.

A container is found where the common layouts put its cgroup, else from its init process
(`/proc/<pid>/cgroup` names its cgroup). Either way the path must hold the container's full
ID (cgroupfs `/docker/<id>`, systemd `docker-<id>.scope`, rootless engines under
`user@<uid>.service`); anything else (Docker Desktop's VM, where the PID is not this host's,
or a remote engine) is not read, and the caller falls back to docker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# cgroup v1 writes a page-rounded LONG_MAX for "no limit"; anything this large is none.
NO_LIMIT_FLOOR = 2**62


@dataclass(frozen=True)
class CgroupLocation:
    """Where one container's cgroup files are."""

    container_id: str
    version: int  # 1 or 2
    memory_dir: Path
    cpu_dir: Path


@dataclass(frozen=True)
class CgroupReading:
    """One reading of a container's cgroup: memory as docker stats reckons it, and CPU time."""

    container_id: str
    memory_usage_bytes: int
    memory_limit_bytes: int | None
    cpu_usage_ns: int | None
    oom_kills: int | None


@dataclass(frozen=True)
class CgroupReader:
    """Reads containers' cgroups under a /proc and a /sys/fs/cgroup (tests point elsewhere)."""

    proc_root: Path = Path("/proc")
    cgroup_root: Path = Path("/sys/fs/cgroup")

    def guess(self, container_id: str) -> CgroupLocation | None:
        """The container's cgroup where the common layouts put it, found without its PID:
        v1 cgroupfs `memory/docker/<id>`, v2 systemd `system.slice/docker-<id>.scope`,
        v2 cgroupfs `docker/<id>`. None when none holds it (then `locate` asks the PID)."""
        if not container_id.isalnum():
            return None  # a container ID is hexadecimal; anything else is no path to build
        v1 = self.cgroup_root / "memory" / "docker" / container_id
        if (v1 / "memory.usage_in_bytes").is_file():
            cpu = self.cgroup_root / "cpu,cpuacct" / "docker" / container_id
            if not cpu.exists():
                cpu = self.cgroup_root / "cpuacct" / "docker" / container_id
            return CgroupLocation(container_id, 1, v1, cpu)
        for relative in (f"system.slice/docker-{container_id}.scope", f"docker/{container_id}"):
            directory = self.cgroup_root / relative
            if (directory / "memory.current").is_file():
                return CgroupLocation(container_id, 2, directory, directory)
        return None

    def locate(self, container_id: str, pid: int) -> CgroupLocation | None:
        """The container's cgroup, or None when it cannot be read here."""
        if pid <= 0:
            return None
        try:
            return self._locate(container_id, (self.proc_root / str(pid) / "cgroup").read_text())
        except (OSError, ValueError):
            # Gone, unreadable, not UTF-8 (cgroup names may hold any byte but '/'), or a name
            # longer than the file system takes: not readable here.
            return None

    def _locate(self, container_id: str, text: str) -> CgroupLocation | None:
        v1_memory: str | None = None
        v1_cpu: str | None = None
        unified: str | None = None
        for line in text.splitlines():
            _, controllers, path = _split_cgroup_line(line)
            names = controllers.split(",")
            if "memory" in names:
                v1_memory = path
            if "cpuacct" in names:
                v1_cpu = path
            if controllers == "" and path:
                unified = path
        if v1_memory is not None and container_id in v1_memory:
            memory_dir = self.cgroup_root / "memory" / v1_memory.lstrip("/")
            cpu_dir = self.cgroup_root / "cpu,cpuacct" / (v1_cpu or v1_memory).lstrip("/")
            if not cpu_dir.exists():
                cpu_dir = self.cgroup_root / "cpuacct" / (v1_cpu or v1_memory).lstrip("/")
            if (memory_dir / "memory.usage_in_bytes").is_file():
                return CgroupLocation(container_id, 1, memory_dir, cpu_dir)
        if unified is not None and container_id in unified:
            directory = self.cgroup_root / unified.lstrip("/")
            if (directory / "memory.current").is_file():
                return CgroupLocation(container_id, 2, directory, directory)
        return None

    def read(self, location: CgroupLocation) -> CgroupReading | None:
        """Memory, limit, CPU time and OOM kills now; None when the cgroup is gone."""
        try:
            if location.version == 1:
                return _read_v1(location)
            return _read_v2(location)
        except (OSError, ValueError):
            return None

    def read_cpu_ns(self, location: CgroupLocation) -> int | None:
        """Only the CPU time (for the start of a CPU measuring window)."""
        try:
            if location.version == 1:
                return int((location.cpu_dir / "cpuacct.usage").read_text())
            return _cpu_v2(location.cpu_dir)
        except (OSError, ValueError):
            return None


def _split_cgroup_line(line: str) -> tuple[str, str, str]:
    hierarchy, _, rest = line.partition(":")
    controllers, _, path = rest.partition(":")
    return hierarchy, controllers, path.strip()


def _stat_fields(text: str) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            fields[key] = int(value)
    return fields


def _limit(text: str) -> int | None:
    value = text.strip()
    if value == "max":
        return None
    limit = int(value)
    return None if limit >= NO_LIMIT_FLOOR else limit


def _read_v1(location: CgroupLocation) -> CgroupReading:
    directory = location.memory_dir
    usage = int((directory / "memory.usage_in_bytes").read_text())
    stat = _stat_fields((directory / "memory.stat").read_text())
    inactive_file = stat.get("total_inactive_file", 0)
    oom_control = _stat_fields(_read_optional(directory / "memory.oom_control"))
    cpu_text = _read_optional(location.cpu_dir / "cpuacct.usage").strip()
    return CgroupReading(
        container_id=location.container_id,
        memory_usage_bytes=usage - inactive_file if inactive_file < usage else usage,
        memory_limit_bytes=_limit((directory / "memory.limit_in_bytes").read_text()),
        cpu_usage_ns=int(cpu_text) if cpu_text.isdigit() else None,
        oom_kills=oom_control.get("oom_kill"),
    )


def _cpu_v2(directory: Path) -> int | None:
    usage_usec = _stat_fields(_read_optional(directory / "cpu.stat")).get("usage_usec")
    return None if usage_usec is None else usage_usec * 1000


def _read_v2(location: CgroupLocation) -> CgroupReading:
    directory = location.memory_dir
    usage = int((directory / "memory.current").read_text())
    stat = _stat_fields((directory / "memory.stat").read_text())
    inactive_file = stat.get("inactive_file", 0)
    events = _stat_fields(_read_optional(directory / "memory.events"))
    return CgroupReading(
        container_id=location.container_id,
        memory_usage_bytes=usage - inactive_file if inactive_file < usage else usage,
        memory_limit_bytes=_limit((directory / "memory.max").read_text()),
        cpu_usage_ns=_cpu_v2(location.cpu_dir),
        oom_kills=events.get("oom_kill"),
    )


def _read_optional(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
