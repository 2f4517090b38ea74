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

import os
import resource
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

# cgroup v1 writes a page-rounded LONG_MAX for "no limit"; anything this large is none.
NO_LIMIT_FLOOR = 2**62


@dataclass(frozen=True)
class CgroupFiles:
    """The paths of the files read at every tick, built once."""

    usage: str
    stat: str
    limit: str
    events: str
    cpu: str

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.usage, self.stat, self.limit, self.events, self.cpu)


@dataclass(frozen=True)
class CgroupLocation:
    """Where one container's cgroup files are."""

    container_id: str
    version: int  # 1 or 2
    memory_dir: Path
    cpu_dir: Path

    @cached_property
    def files(self) -> CgroupFiles:
        memory, cpu = str(self.memory_dir), str(self.cpu_dir)
        if self.version == 1:
            return CgroupFiles(
                f"{memory}/memory.usage_in_bytes", f"{memory}/memory.stat", f"{memory}/memory.limit_in_bytes",
                f"{memory}/memory.oom_control", f"{cpu}/cpuacct.usage",
            )  # fmt: skip
        return CgroupFiles(
            f"{memory}/memory.current", f"{memory}/memory.stat", f"{memory}/memory.max",
            f"{memory}/memory.events", f"{cpu}/cpu.stat",
        )  # fmt: skip


@dataclass(frozen=True)
class CgroupReading:
    """One reading of a container's cgroup: memory as docker stats reckons it, and CPU time."""

    container_id: str
    memory_usage_bytes: int
    memory_limit_bytes: int | None
    cpu_usage_ns: int | None
    oom_kills: int | None
    # The two figures usage is computed from: what the cgroup is charged, and its inactive file
    # cache (from memory.stat, which costs seven times what the charge costs to read).
    charged_bytes: int = 0
    inactive_file_bytes: int | None = None


class OpenCgroupFiles:
    """The cgroup files a watch reads, kept open and read again from offset 0 (the kernel
    writes a cgroup file's content afresh for each read from the start): a tenth of the cost
    of opening a small file each time, a half of memory.stat's. The limit and OOM files, read
    every few ticks only, are kept too: opening them cost more than reading all the others.

    Bounded to half the process's open-file limit; past it, files are opened per read."""

    def __init__(self, max_open: int | None = None) -> None:
        self.max_open = _open_file_budget() if max_open is None else max_open
        self._descriptors: dict[str, int] = {}

    def read(self, path: str) -> bytes:
        descriptor = self._descriptors.get(path)
        if descriptor is None:
            if len(self._descriptors) >= self.max_open:
                return _read(path)
            descriptor = os.open(path, os.O_RDONLY)
            self._descriptors[path] = descriptor
        return os.pread(descriptor, 65536, 0)

    def forget(self, location: CgroupLocation) -> None:
        """Close the files of a container that is gone (its cgroup is removed)."""
        for path in location.files.paths:
            descriptor = self._descriptors.pop(path, None)
            if descriptor is not None:
                os.close(descriptor)

    def close(self) -> None:
        for descriptor in self._descriptors.values():
            os.close(descriptor)
        self._descriptors.clear()

    def __len__(self) -> int:
        return len(self._descriptors)


# How far a watch raises its soft open-file limit (toward the hard one) for the files it keeps.
WANTED_FILE_LIMIT = 8192


def _open_file_budget() -> int:
    """Half the open-file limit, the soft limit first raised toward the hard one (as Go
    programs such as the docker CLI do at start): the usual soft 1024 would keep the five
    files of only some hundred containers open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < WANTED_FILE_LIMIT:
        raised = WANTED_FILE_LIMIT if hard == resource.RLIM_INFINITY else min(hard, WANTED_FILE_LIMIT)
        if raised > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
                soft = raised
            except (ValueError, OSError):
                pass  # not allowed here: the limit as it is
    return 2048 if soft == resource.RLIM_INFINITY else soft // 2


@dataclass(frozen=True)
class CgroupReader:
    """Reads containers' cgroups under a /proc and a /sys/fs/cgroup (tests point elsewhere).

    With `open_files`, the files read at every tick stay open between reads (a watch);
    without, each read opens and closes them (a one-off snapshot)."""

    proc_root: Path = Path("/proc")
    cgroup_root: Path = Path("/sys/fs/cgroup")
    open_files: OpenCgroupFiles | None = field(default=None, compare=False)

    def guess(self, container_id: str) -> CgroupLocation | None:
        """The container's cgroup where the common layouts put it, found without its PID:
        v1 cgroupfs `memory/docker/<id>`, v2 systemd `system.slice/docker-<id>.scope`,
        v2 cgroupfs `docker/<id>`. None when none holds it (then `locate` asks the PID)."""
        if not container_id.isalnum():
            return None  # a container ID is hexadecimal; anything else is no path to build
        # Probed as strings (a snapshot guesses for every container): Path objects are built
        # for the one layout found only.
        root = str(self.cgroup_root)
        v1 = f"{root}/{V1_MEMORY_PARENT}/{container_id}"
        if os.path.isfile(f"{v1}/memory.usage_in_bytes"):
            return CgroupLocation(container_id, 1, Path(v1), Path(f"{_v1_cpu_parent(root)}/{container_id}"))
        for parent, prefix, suffix in V2_LAYOUTS:
            directory = f"{root}/{parent}/{prefix}{container_id}{suffix}"
            if os.path.isfile(f"{directory}/memory.current"):
                return CgroupLocation(container_id, 2, Path(directory), Path(directory))
        return None

    def guessed_locations(self) -> list[CgroupLocation]:
        """The cgroups of the containers that sit where the common layouts put them, from
        listing those directories (no docker call, and no probe of each): what a snapshot
        reads CPU times of before docker has listed its containers, so that its CPU window
        runs while docker answers."""
        root = str(self.cgroup_root)
        cpu_parent = _v1_cpu_parent(root)
        found = [
            CgroupLocation(cid, 1, Path(f"{root}/{V1_MEMORY_PARENT}/{cid}"), Path(f"{cpu_parent}/{cid}"))
            for cid in _container_ids(_directory_names(Path(f"{root}/{V1_MEMORY_PARENT}")))
        ]
        for parent, prefix, suffix in V2_LAYOUTS:
            names = [
                name.removeprefix(prefix).removesuffix(suffix)
                for name in _directory_names(Path(f"{root}/{parent}"))
                if name.startswith(prefix) and name.endswith(suffix)
            ]
            for cid in _container_ids(names):
                directory = Path(f"{root}/{parent}/{prefix}{cid}{suffix}")
                found.append(CgroupLocation(cid, 2, directory, directory))
        return found

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

    def read(self, location: CgroupLocation, previous: CgroupReading | None = None) -> CgroupReading | None:
        """Memory, limit, CPU time and OOM kills now; None when the cgroup is gone.

        Given the previous reading, the limit and the OOM count are taken from it rather than
        read again (they change seldom, and docker events reports OOM kills as well), and so is
        the inactive file cache while the charge has not moved: a watch at 10 Hz over hundreds
        of containers reads them every few ticks only."""
        read = _read if self.open_files is None else self.open_files.read
        try:
            if location.version == 1:
                return _read_v1(location, previous, read)
            return _read_v2(location, previous, read)
        except (OSError, ValueError):
            if self.open_files is not None:
                self.open_files.forget(location)
            return None

    def read_cpu_ns(self, location: CgroupLocation) -> int | None:
        """Only the CPU time (for the start of a CPU measuring window)."""
        try:
            if location.version == 1:
                return int(_read(location.files.cpu))
            return _cpu_v2(location.files.cpu)
        except (OSError, ValueError):
            return None


def _directory_names(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


# The common layouts, under the cgroup root: v1 cgroupfs puts a container's memory cgroup in
# `memory/docker/<id>` and its CPU one beside it; v2 puts both in one directory, systemd's
# `system.slice/docker-<id>.scope` or cgroupfs's `docker/<id>` (parent, prefix, suffix).
V1_MEMORY_PARENT = "memory/docker"
V2_LAYOUTS = (("system.slice", "docker-", ".scope"), ("docker", "", ""))


def _v1_cpu_parent(root: str) -> str:
    """Where v1 keeps the containers' CPU cgroups: `cpu,cpuacct` mounted together, or `cpuacct`."""
    combined = f"{root}/cpu,cpuacct/docker"
    return combined if os.path.isdir(combined) else f"{root}/cpuacct/docker"


def _container_ids(names: Iterable[str]) -> list[str]:
    return [name for name in names if len(name) == 64 and name.isalnum()]


def _split_cgroup_line(line: str) -> tuple[str, str, str]:
    hierarchy, _, rest = line.partition(":")
    controllers, _, path = rest.partition(":")
    return hierarchy, controllers, path.strip()


def _stat_field(text: bytes, key: bytes) -> int | None:
    """One `key value` line of a flat-keyed cgroup file (memory.stat, memory.events...),
    found without parsing the rest: this runs for every container at every tick."""
    start = 0
    while True:
        at = text.find(key, start)
        if at < 0:
            return None
        end = at + len(key)
        if (at == 0 or text[at - 1] == 0x0A) and text[end : end + 1] == b" ":
            line_end = text.find(b"\n", end)
            value = text[end + 1 : line_end if line_end >= 0 else len(text)].strip()
            return int(value) if value.isdigit() else None
        start = end


def _read(path: str) -> bytes:
    # os-level reads: about a fifth of what pathlib's read_text costs, per file and per tick.
    descriptor = os.open(path, os.O_RDONLY)
    try:
        return os.read(descriptor, 65536)
    finally:
        os.close(descriptor)


def _read_optional(path: str, read: Callable[[str], bytes] = _read) -> bytes:
    try:
        return read(path)
    except OSError:
        return b""


def _limit(text: bytes) -> int | None:
    value = text.strip()
    if value == b"max":
        return None
    limit = int(value)
    return None if limit >= NO_LIMIT_FLOOR else limit


def _usage(usage: int, inactive_file: int | None) -> int:
    """Usage as `docker stats` computes it: less the inactive file cache, when it is smaller."""
    return usage - inactive_file if inactive_file is not None and inactive_file < usage else usage


def _charge(
    files: CgroupFiles, previous: CgroupReading | None, read: Callable[[str], bytes], inactive_key: bytes
) -> tuple[int, int | None]:
    """The cgroup's charge and its inactive file cache. While the charge holds still between
    two reads, memory.stat is not read again: the inactive figure is the last one (a full read,
    every few ticks, reads it afresh in any case)."""
    charged = int(read(files.usage))
    if previous is not None and previous.charged_bytes == charged:
        return charged, previous.inactive_file_bytes
    return charged, _stat_field(read(files.stat), inactive_key)


def _read_v1(
    location: CgroupLocation, previous: CgroupReading | None, read: Callable[[str], bytes]
) -> CgroupReading:
    files = location.files
    cpu_text = _read_optional(files.cpu, read).strip()
    charged, inactive = _charge(files, previous, read, b"total_inactive_file")
    cpu = int(cpu_text) if cpu_text.isdigit() else None
    return _reading(location, previous, charged, inactive, cpu, read)


def _cpu_v2(path: str, read: Callable[[str], bytes] = _read) -> int | None:
    usage_usec = _stat_field(_read_optional(path, read), b"usage_usec")
    return None if usage_usec is None else usage_usec * 1000


def _read_v2(
    location: CgroupLocation, previous: CgroupReading | None, read: Callable[[str], bytes]
) -> CgroupReading:
    files = location.files
    charged, inactive = _charge(files, previous, read, b"inactive_file")
    return _reading(location, previous, charged, inactive, _cpu_v2(files.cpu, read), read)


def _reading(
    location: CgroupLocation,
    previous: CgroupReading | None,
    charged: int,
    inactive: int | None,
    cpu: int | None,
    read: Callable[[str], bytes],
) -> CgroupReading:
    """The reading of either version: the limit and OOM count read afresh on a full read,
    else taken from the previous reading."""
    if previous is not None:
        # Positional, not dataclasses.replace: this runs for every container at every tick.
        limit, oom_kills = previous.memory_limit_bytes, previous.oom_kills
        return CgroupReading(
            location.container_id, _usage(charged, inactive), limit, cpu, oom_kills, charged, inactive
        )
    files = location.files
    return CgroupReading(
        container_id=location.container_id,
        memory_usage_bytes=_usage(charged, inactive),
        memory_limit_bytes=_limit(read(files.limit)),
        cpu_usage_ns=cpu,
        oom_kills=_stat_field(_read_optional(files.events, read), b"oom_kill"),
        charged_bytes=charged,
        inactive_file_bytes=inactive,
    )
