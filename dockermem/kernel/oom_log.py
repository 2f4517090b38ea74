"""OOM kills as the kernel logs them: parsed at the edge into typed records.

When the OOM killer kills a process it logs, in order (kernels 4.19 to 6.x; lines cut here):

    memhog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
    ... (the stack of the task that asked for memory)
    memory: usage 65536kB, limit 65536kB, failcnt 0               (a cgroup's limit was hit)
    ... (the cgroup's memory.stat)
    Tasks state (memory values in pages):                         (vm.oom_dump_tasks, on by default)
    [  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes ... name
    [   9444]     0  9444    51458    15215    15200       15         0   163840 ... memhog
    oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),...,oom_memcg=/docker/<id>,
        task_memcg=/docker/<id>,task=memhog,pid=9444,uid=0
    Memory cgroup out of memory: Killed process 9444 (memhog) total-vm:205832kB,
        anon-rss:60800kB, file-rss:60kB, shmem-rss:0kB, UID:0 pgtables:160kB oom_score_adj:0

The host's own OOM killer (no cgroup limit: the machine ran out) says `constraint=CONSTRAINT_NONE`
and `Out of memory: Killed process ...`. Kernels before 4.19 have no `oom-kill:` line; they say
`Task in /docker/<id> killed as a result of limit of /docker/<id>`. The task dump's columns
differ between versions (6.x adds rss_anon, rss_file, rss_shmem), so its header is read.
The kernel serialises OOM kills (oom_lock): one kill's lines are never interleaved with
another's, though other messages may fall between them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

KIB = 1024
# The 64 hex digits of a container's ID, in any engine's cgroup path: /docker/<id>,
# /docker26/<id>, /libpod_parent/libpod-<id>, /system.slice/docker-<id>.scope,
# /machine.slice/libpod-<id>.scope/container.
CONTAINER_ID_IN_PATH = re.compile(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])")

INVOKED = re.compile(r"^(?P<task>.*) invoked oom-killer: ")
CGROUP_MEMORY = re.compile(r"^memory: usage (?P<usage>\d+)kB, limit (?P<limit>\d+)kB")
TASKS_HEADER = re.compile(r"^\[\s*pid\s*\]")
TASK_ROW = re.compile(r"^\[\s*(?P<pid>\d+)\]\s+(?P<rest>.*)$")
OOM_KILL = re.compile(r"^oom-kill:(?P<fields>.*)$")
# `nodemask=0-1,3` holds commas of its own: a field starts only where `name=` does.
OOM_KILL_FIELD = re.compile(r"(?:^|,)(?P<name>[a-z_]+)=(?P<value>.*?)(?=,[a-z_]+=|$)")
OLD_TASK_IN = re.compile(r"^Task in (?P<task>\S+) killed as a result of limit of (?P<limit>\S+)")
KILLED = re.compile(
    r"^(?P<kind>Memory cgroup out of memory|Out of memory(?: \(oom_kill_allocating_task\))?): "
    r"Killed process (?P<pid>\d+) \((?P<name>.*)\) total-vm:(?P<vm>\d+)kB, anon-rss:(?P<anon>\d+)kB, "
    r"file-rss:(?P<file>\d+)kB, shmem-rss:(?P<shmem>\d+)kB"
)
# Before 5.0 the line had no "Memory cgroup out of memory:" before "Killed process".
OLD_KILLED = re.compile(
    r"^Killed process (?P<pid>\d+) \((?P<name>.*)\) total-vm:(?P<vm>\d+)kB, anon-rss:(?P<anon>\d+)kB, "
    r"file-rss:(?P<file>\d+)kB, shmem-rss:(?P<shmem>\d+)kB"
)
# The words a line holds if it begins a kill (INVOKED) or ends one (KILLED, OLD_KILLED). A raw
# /dev/kmsg record holds them as they are: the kernel escapes no printable ASCII.
KILL_WORDS = ("invoked oom-killer", "Killed process")
KILL_WORDS_BYTES = (KILL_WORDS[0].encode(), KILL_WORDS[1].encode())
MEMCG_CONSTRAINT = "CONSTRAINT_MEMCG"
HOST_CONSTRAINT = "CONSTRAINT_NONE"
# A kill's lines follow one another within microseconds; a half-told kill this old is dropped.
MAX_KILL_SPAN_SECONDS = 5.0
# The kernel gave up on this invocation: what was read of it belongs to no kill.
GAVE_UP = re.compile(r"Skip killing|is already exiting|no killable process", re.IGNORECASE)
# The largest tasks of a dump kept while it is read (a host-wide dump lists every task): one
# more than a kill shows, as the killed task is left out of those shown.
KEPT_TASKS = 4


@dataclass(frozen=True)
class KernelRecord:
    """One message of the kernel log: its sequence number (None from `dmesg`), the seconds
    since boot it was logged at, and its text."""

    sequence: int | None
    at_seconds: float
    text: str


def parse_kmsg_record(raw: bytes) -> KernelRecord | None:
    """One record as /dev/kmsg gives it: `priority,sequence,microseconds,flags[,...];text`,
    then continuation lines (` KEY=value`) that are left out. None for anything else."""
    header, separator, rest = raw.partition(b";")
    parts = header.split(b",")
    if not separator or len(parts) < 4:
        return None
    try:
        sequence, microseconds = int(parts[1]), int(parts[2])
    except ValueError:
        return None
    text = rest.split(b"\n", 1)[0]
    return KernelRecord(sequence, microseconds / 1_000_000, _unescape(text).decode("utf-8", "replace"))


DMESG_LINE = re.compile(r"^(?:<\d+>)?\[\s*(?P<seconds>\d+\.\d+)\] (?P<text>.*)$")


def parse_dmesg_line(line: str) -> KernelRecord | None:
    """One line of `dmesg` (or `dmesg -r`): `[  11833.268573] text`."""
    match = DMESG_LINE.match(line.rstrip("\n"))
    if match is None:
        return None
    return KernelRecord(None, float(match["seconds"]), match["text"])


def _unescape(text: bytes) -> bytes:
    # /dev/kmsg writes unprintable bytes as \xNN, the bytes of a UTF-8 name among them.
    if b"\\x" not in text:
        return text
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), text)


@dataclass(frozen=True)
class KilledProcess:
    """The process the kernel killed, and its memory at that moment."""

    pid: int
    name: str
    total_vm_bytes: int
    anon_rss_bytes: int
    file_rss_bytes: int
    shmem_rss_bytes: int

    @property
    def rss_bytes(self) -> int:
        return self.anon_rss_bytes + self.file_rss_bytes + self.shmem_rss_bytes


@dataclass(frozen=True)
class DumpedTask:
    """One task of the dump the kernel logs with a kill (the tasks of the cgroup that ran out)."""

    pid: int
    name: str
    rss_bytes: int


@dataclass(frozen=True)
class KernelOomKill:
    """One OOM kill as the kernel logged it."""

    at_seconds: float  # since boot
    constraint: str | None  # CONSTRAINT_MEMCG: a cgroup's limit; CONSTRAINT_NONE: the host ran out
    task_memcg: str | None  # the cgroup of the killed task
    oom_memcg: str | None  # the cgroup whose limit was hit
    process: KilledProcess
    cgroup_usage_bytes: int | None = None
    cgroup_limit_bytes: int | None = None
    tasks: tuple[DumpedTask, ...] = ()  # the largest of the dump (KEPT_TASKS), largest first
    at: datetime | None = None  # the wall time, where the reader can tell it

    @property
    def container_id(self) -> str | None:
        """The full ID of the container the killed task ran in, from its cgroup's path."""
        found = CONTAINER_ID_IN_PATH.findall(self.task_memcg or "")
        return found[-1] if found else None

    @property
    def host_wide(self) -> bool:
        """The host's OOM killer, not a cgroup's limit: the machine ran out of memory."""
        return self.constraint == HOST_CONSTRAINT

    def top_tasks(self, count: int = KEPT_TASKS - 1) -> tuple[DumpedTask, ...]:
        """The largest tasks of the dump, the killed one left out."""
        others = [task for task in self.tasks if task.pid != self.process.pid]
        return tuple(sorted(others, key=lambda task: (-task.rss_bytes, task.pid))[:count])


@dataclass
class _Pending:
    last_at: float  # when its latest line was logged
    usage_bytes: int | None = None
    limit_bytes: int | None = None
    columns: list[str] | None = None
    tasks: list[DumpedTask] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


class OomLogParser:
    """Reads kernel records one at a time and gives each OOM kill once its last line is read.
    Records from before the first `invoked oom-killer` a kill follows are not needed: the
    `Killed process` line alone makes a kill (with what else was read of it)."""

    def __init__(self, page_size: int = 4096) -> None:
        self.page_size = page_size
        self._pending: _Pending | None = None

    def reset(self) -> None:
        """Forget a kill half read (records were lost between its lines)."""
        self._pending = None

    def can_skip(self, raw: bytes) -> bool:
        """Whether the reader can skip a raw /dev/kmsg record unparsed: no kill is being read,
        and the record holds neither the words that begin one (INVOKED) nor those that end one
        (KILLED, OLD_KILLED). Most records of a busy log can (network and mount messages)."""
        if self._pending is not None:
            return False
        begins, ends = KILL_WORDS_BYTES
        return begins not in raw and ends not in raw

    def feed(self, record: KernelRecord) -> KernelOomKill | None:
        text = record.text.strip()
        pending = self._pending
        if pending is not None and record.at_seconds - pending.last_at > MAX_KILL_SPAN_SECONDS:
            pending = self._pending = None
        # The words first: a search for them costs less than the regexes, on every line of a dump.
        begins, ends = KILL_WORDS
        if begins in text and INVOKED.match(text):
            self._pending = _Pending(record.at_seconds)
            return None
        killed: re.Match[str] | None = None
        if ends in text:
            killed = KILLED.match(text) or OLD_KILLED.match(text)
        if killed is not None:
            self._pending = None
            if pending is None or pending.fields.get("pid", killed["pid"]) != killed["pid"]:
                pending = _Pending(record.at_seconds)  # what was read told of another process
            return self._kill(record, killed, pending)
        if pending is None:
            return None
        if GAVE_UP.search(text):
            self._pending = None
            return None
        pending.last_at = record.at_seconds
        if match := CGROUP_MEMORY.match(text):
            if pending.usage_bytes is None:
                pending.usage_bytes = int(match["usage"]) * KIB
                pending.limit_bytes = int(match["limit"]) * KIB
        elif TASKS_HEADER.match(text):
            pending.columns = text.replace("[", " ").replace("]", " ").split()
        elif (match := TASK_ROW.match(text)) and pending.columns is not None:
            task = self._task(int(match["pid"]), match["rest"], pending.columns)
            if task is not None:
                pending.tasks.append(task)
                pending.tasks.sort(key=lambda kept: (-kept.rss_bytes, kept.pid))
                del pending.tasks[KEPT_TASKS:]
        elif match := OOM_KILL.match(text):
            pending.fields = {m["name"]: m["value"] for m in OOM_KILL_FIELD.finditer(match["fields"])}
        elif match := OLD_TASK_IN.match(text):
            pending.fields = {"task_memcg": match["task"], "oom_memcg": match["limit"]}
        return None

    def _task(self, pid: int, rest: str, columns: list[str]) -> DumpedTask | None:
        # The columns after `pid`; the name is last and may hold spaces.
        names = columns[1:]
        values = rest.split(None, len(names) - 1)
        if len(values) != len(names) or "rss" not in names or names[-1] != "name":
            return None
        try:
            rss_pages = int(values[names.index("rss")])
        except ValueError:
            return None
        return DumpedTask(pid, values[-1], rss_pages * self.page_size)

    def _kill(self, record: KernelRecord, killed: re.Match[str], pending: _Pending) -> KernelOomKill:
        fields = pending.fields
        constraint = fields.get("constraint")
        if constraint is None and killed.groupdict().get("kind"):
            constraint = MEMCG_CONSTRAINT if killed["kind"].startswith("Memory cgroup") else HOST_CONSTRAINT
        elif constraint is None and "oom_memcg" in fields:
            constraint = MEMCG_CONSTRAINT  # before 4.19: "Task in ... killed as a result of limit of ..."
        process = KilledProcess(
            int(killed["pid"]),
            killed["name"],
            int(killed["vm"]) * KIB,
            int(killed["anon"]) * KIB,
            int(killed["file"]) * KIB,
            int(killed["shmem"]) * KIB,
        )
        memcg = constraint != HOST_CONSTRAINT
        return KernelOomKill(
            at_seconds=record.at_seconds,
            constraint=constraint,
            task_memcg=fields.get("task_memcg"),
            oom_memcg=fields.get("oom_memcg"),
            process=process,
            cgroup_usage_bytes=pending.usage_bytes if memcg else None,
            cgroup_limit_bytes=pending.limit_bytes if memcg else None,
            tasks=tuple(pending.tasks),
        )


def parse_oom_kills(records: list[KernelRecord], page_size: int = 4096) -> list[KernelOomKill]:
    """Every OOM kill in a run of records."""
    parser = OomLogParser(page_size)
    return [kill for record in records if (kill := parser.feed(record)) is not None]
