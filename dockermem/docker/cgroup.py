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
class CgroupLayout:
    """Where an engine puts each container's cgroup, under the cgroup root, `{id}` standing
    for the container's full ID: v1 names the memory and the CPU directory, v2 one directory
    for both (`memory` and `cpu` the same)."""

    version: int
    memory: str
    cpu: str

    def place(self, root: str, container_id: str) -> CgroupLocation | None:
        """The container's cgroup in this layout, when it is there."""
        memory = f"{root}/{self.memory.replace('{id}', container_id)}"
        probe = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        if not os.path.isfile(f"{memory}/{probe}"):
            return None
        cpu = memory if self.version == 2 else f"{root}/{self.cpu.replace('{id}', container_id)}"
        return CgroupLocation(container_id, self.version, Path(memory), Path(cpu))

    def listed(self, root: str) -> list[CgroupLocation]:
        """The containers in this layout, from listing its parent directory (no probe of each)."""
        parent, _, name = self.memory.rpartition("/")
        prefix, _, suffix = name.partition("{id}")
        names = [
            entry.removeprefix(prefix).removesuffix(suffix)
            for entry in _directory_names(Path(f"{root}/{parent}"))
            if entry.startswith(prefix) and entry.endswith(suffix)
        ]
        return [
            CgroupLocation(cid, self.version, Path(f"{root}/{self.memory.replace('{id}', cid)}"),
                           Path(f"{root}/{self.cpu.replace('{id}', cid)}"))
            for cid in _container_ids(names)
        ]  # fmt: skip

    @classmethod
    def of(cls, root: Path, location: CgroupLocation) -> CgroupLayout | None:
        """The layout a located cgroup shows, when the container's ID is in its directory's name."""
        memory = _template(root, location.memory_dir, location.container_id)
        cpu = _template(root, location.cpu_dir, location.container_id)
        return None if memory is None or cpu is None else cls(location.version, memory, cpu)


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
    # Layouts found by locating a container through its PID (see `learn`), tried after the common ones.
    learned: list[CgroupLayout] = field(default_factory=list, compare=False)

    def guess(self, container_id: str) -> CgroupLocation | None:
        """The container's cgroup where the known layouts put it, found without its PID: the
        common ones (`COMMON_LAYOUTS`: Docker's and Podman's, cgroupfs and systemd, v1 and v2),
        then those this reader learnt. None when none holds it (then `locate` asks the PID)."""
        if not container_id.isalnum():
            return None  # a container ID is hexadecimal; anything else is no path to build
        root = str(self.cgroup_root)
        for layout in self.layouts:
            location = layout.place(root, container_id)
            if location is not None:
                return location
        return None

    @property
    def layouts(self) -> list[CgroupLayout]:
        """The layouts tried: the common ones, then the learnt ones."""
        return [*self.common_layouts, *self.learned]

    @cached_property
    def common_layouts(self) -> list[CgroupLayout]:
        """The common layouts, v1's CPU directory as this machine mounts it."""
        return _common_layouts(str(self.cgroup_root))

    def guessed_locations(self) -> list[CgroupLocation]:
        """The cgroups of the containers that sit where the known layouts put them, from
        listing those directories (no docker call, and no probe of each): what a snapshot
        reads CPU times of before docker has listed its containers, so that its CPU window
        runs while docker answers."""
        root = str(self.cgroup_root)
        return [location for layout in self.layouts for location in layout.listed(root)]

    def learn(self, location: CgroupLocation) -> None:
        """Take up the layout a located container shows (a daemon's own cgroup parent): its
        neighbours are then found without their PIDs."""
        layout = CgroupLayout.of(self.cgroup_root, location)
        if layout is not None and layout not in self.layouts:
            self.learned.append(layout)

    def locate(self, container_id: str, pid: int) -> CgroupLocation | None:
        """The container's cgroup, or None when it cannot be read here; its layout is learnt."""
        if pid <= 0:
            return None
        try:
            location = self._locate(container_id, (self.proc_root / str(pid) / "cgroup").read_text())
        except (OSError, ValueError):
            # Gone, unreadable, not UTF-8 (cgroup names may hold any byte but '/'), or a name
            # longer than the file system takes: not readable here.
            return None
        if location is not None:
            self.learn(location)
        return location

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
            memory_path = _containers_own(v1_memory, container_id)
            cpu_path = _containers_own(v1_cpu or v1_memory, container_id)
            memory_dir = self.cgroup_root / "memory" / memory_path
            cpu_dir = self.cgroup_root / "cpu,cpuacct" / cpu_path
            if not cpu_dir.exists():
                cpu_dir = self.cgroup_root / "cpuacct" / cpu_path
            if (memory_dir / "memory.usage_in_bytes").is_file():
                return CgroupLocation(container_id, 1, memory_dir, cpu_dir)
        if unified is not None and container_id in unified:
            directory = self.cgroup_root / _containers_own(unified, container_id)
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


# The common layouts, under the cgroup root (memory, CPU; `{id}` the container's full ID).
# v1 cgroupfs puts a container's memory cgroup in `memory/<parent>/<id>` and its CPU one beside
# it; v2 puts both in one directory. Docker: parent `docker`, or systemd's
# `system.slice/docker-<id>.scope`. Podman: `libpod_parent/libpod-<id>`, or systemd's
# `machine.slice/libpod-<id>.scope`.
V1_PARENTS = (("docker", "{id}"), ("libpod_parent", "libpod-{id}"))
V2_LAYOUTS = (
    "system.slice/docker-{id}.scope",
    "docker/{id}",
    "machine.slice/libpod-{id}.scope",
    "libpod_parent/libpod-{id}",
)


def _common_layouts(root: str) -> list[CgroupLayout]:
    cpu = "cpu,cpuacct" if os.path.isdir(f"{root}/cpu,cpuacct") else "cpuacct"
    v1 = [CgroupLayout(1, f"memory/{parent}/{name}", f"{cpu}/{parent}/{name}") for parent, name in V1_PARENTS]
    return v1 + [CgroupLayout(2, layout, layout) for layout in V2_LAYOUTS]


def _template(root: Path, directory: Path, container_id: str) -> str | None:
    """A cgroup directory under the root with the container's ID as `{id}` (in its last name)."""
    try:
        relative = directory.relative_to(root).as_posix()
    except ValueError:
        return None
    parent, _, name = relative.rpartition("/")
    if container_id not in name or "{" in relative:
        return None
    return f"{parent}/{name.replace(container_id, '{id}')}" if parent else name.replace(container_id, "{id}")


def _containers_own(path: str, container_id: str) -> str:
    """The container's own cgroup in a process's cgroup path (relative to the root): the one
    named with its ID. Podman's runtime (crun, systemd driver) puts the processes in a leaf
    below it, `libpod-<id>.scope/container`, whose memory.max is `max`: the container's limit
    and its whole charge are the scope's."""
    names = path.strip("/").split("/")
    last = max(index for index, name in enumerate(names) if container_id in name)
    return "/".join(names[: last + 1])


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
