"""OOM kills: one record per kill, however many ways it was seen, and which kind it was.

The kernel's OOM killer shows in four places: docker's `oom` event, the cgroup's own kill
counter (`oom_kill` in `memory.oom_control` or `memory.events`), `State.OOMKilled`, and the
kernel's log, which alone names the process. One kill may show in all four. `OOMKilled` is true
when any process in the container was killed (Docker 20.10 sets it as the container stops,
Docker 25 and later at the kill). Some engines send no event and leave the state false
(Podman 4), and a container killed at its start is gone with its cgroup before the counter is
read: then the kernel's log is the only witness. A container killed by it has also exited
with 137 (SIGKILL); 137 alone is a SIGKILL, not an OOM kill.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from dockermem.docker.models import ContainerState
from dockermem.kernel.oom_log import KernelOomKill
from dockermem.units import format_bytes

if TYPE_CHECKING:
    from dockermem.core.host import HostMemory

SIGKILL_EXIT = 137
# One kill seen twice (the event and the counter) is seen within this long at least; so is the
# container's exit with 137 when the kill was of its main process (a kill longer before the
# exit was not its death). A session whose cgroup counter is read less often widens it
# (`OomLedger(same_kill_seconds)`).
SAME_KILL_SECONDS = 5.0
# The kernel's time of a kill and the engine's of a death come from two clocks: a death is
# taken to follow a kill when the two say it came up to this long before it.
CLOCKS_APART_SECONDS = 1.0
# A long watch keeps this many kills (the oldest go first).
MAX_KILLS_KEPT = 10_000


class OomKind(Enum):
    """Whether the container died, or only a process inside it."""

    CONTAINER = "container"
    PROCESS = "process"


@dataclass(frozen=True)
class MemorySample:
    """A container's memory at one moment (for "its memory at the last sample")."""

    at: datetime
    usage_bytes: int
    limit_bytes: int | None


@dataclass(frozen=True)
class OomKill:
    """One OOM kill, attributed to a container."""

    container_id: str
    name: str
    service: str | None
    kind: OomKind
    at: datetime | None
    last_sample: MemorySample | None
    seen_by: str = ""  # "docker events", "cgroup", "state", "kernel log": the first to see it
    project: str | None = None
    engine: str = "default"
    kernel: KernelOomKill | None = None  # the kernel log's record of it, where it could be read
    host: HostMemory | None = None  # the host's memory as last read, for a kill by the host's OOM killer

    def describe(self) -> str:
        who = self.service or self.name
        what = (
            f"{who} was OOM-killed"
            if self.kind is OomKind.CONTAINER
            else f"a process in {who} was OOM-killed"
        )
        when = f" at {self.at:%H:%M:%S}" if self.at else ""
        if self.kernel is not None:
            return what + when + kernel_account(self.kernel, self.host)
        memory = ""
        if self.last_sample is not None:
            limit = (
                "no limit"
                if self.last_sample.limit_bytes is None
                else format_bytes(self.last_sample.limit_bytes)
            )
            memory = f" (last seen at {format_bytes(self.last_sample.usage_bytes)} of {limit})"
        return what + when + memory


def kernel_account(kill: KernelOomKill, host: HostMemory | None = None) -> str:
    """`: process memhog (pid 9444, 59.4MiB RSS) at 64.0MiB of its 64.0MiB limit; also held: sh 1.0MiB`"""
    process = kill.process
    text = f": process {process.name} (pid {process.pid}, {format_bytes(process.rss_bytes)} RSS)"
    if kill.host_wide:
        used, total = (0, 0) if host is None else (host.memory_used_bytes, host.memory_total_bytes)
        at = "" if host is None else f" (the host at {format_bytes(used)} of {format_bytes(total)})"
        return (
            text + f", by the host's OOM killer: the machine ran out of memory{at}, not the container's limit"
        )
    usage, limit = kill.cgroup_usage_bytes, kill.cgroup_limit_bytes
    if usage is not None and limit is not None:
        text += f" at {format_bytes(usage)} of its {format_bytes(limit)} limit"
    others = kill.top_tasks()
    if others:
        text += "; also held: " + ", ".join(f"{task.name} {format_bytes(task.rss_bytes)}" for task in others)
    return text


def kernel_details(kill: KernelOomKill, host: HostMemory | None = None) -> dict[str, Any]:
    """What an OOM event's details carry of the kernel log's record of the kill (and, for the
    host's own OOM killer, the host's memory as last read)."""
    process = kill.process
    host_memory = (
        {}
        if host is None
        else {
            "host_memory_used_bytes": host.memory_used_bytes,
            "host_memory_total_bytes": host.memory_total_bytes,
        }
    )
    return {
        **host_memory,
        "process": {
            "name": process.name,
            "pid": process.pid,
            "rss_bytes": process.rss_bytes,
            "anon_rss_bytes": process.anon_rss_bytes,
            "file_rss_bytes": process.file_rss_bytes,
            "shmem_rss_bytes": process.shmem_rss_bytes,
        },
        "constraint": "host" if kill.host_wide else "cgroup",
        "cgroup_usage_bytes": kill.cgroup_usage_bytes,
        "cgroup_limit_bytes": kill.cgroup_limit_bytes,
        "top_processes": [
            {"name": task.name, "pid": task.pid, "rss_bytes": task.rss_bytes} for task in kill.top_tasks()
        ],
    }


@dataclass
class _Sighting:
    """A kill as the ledger keeps it while more may be learnt of it."""

    kill: OomKill
    seen_at: float  # the session's clock
    sources: set[str]


@dataclass
class _Death:
    exit_code: int | None
    at: float  # the session's clock, when it was told
    engine_at: datetime | None = None  # when the engine says it happened


class OomLedger:
    """Every OOM kill of a session, each once: a sighting by another source within
    `same_kill_seconds` of one already counted is the same kill, and an exit with 137 within as
    long of a kill makes it the container's own death. Times are the session's clock, and for a
    death also the engine's and the kernel's own: Podman may tell of a death seconds after it on
    a busy machine, with the time it happened (Docker's `die` carries the time dockerd sent it,
    but its `FinishedAt`, read at the end of `up`, the time of the exit)."""

    def __init__(self, same_kill_seconds: float = SAME_KILL_SECONDS) -> None:
        self.same_kill_seconds = same_kill_seconds
        self._sightings: deque[_Sighting] = deque(maxlen=MAX_KILLS_KEPT)
        self._deaths: dict[str, _Death] = {}

    def sighted(self, now: float, seen_by: str, kill: OomKill) -> bool:
        """Count a kill seen by `seen_by`; False when it is one already counted (what the
        kernel's log says of it is kept with it all the same)."""
        same = next(
            (
                s
                for s in self._unseen_by(seen_by, kill.container_id)
                if now - s.seen_at < self.same_kill_seconds
            ),
            None,
        )
        if same is not None:
            same.sources.add(seen_by)
            if kill.kernel is not None and same.kill.kernel is None:
                same.kill = replace(same.kill, kernel=kill.kernel)
            return False
        death = self._death_of(kill.container_id)
        if (
            death is not None
            and death.exit_code == SIGKILL_EXIT
            and (now - death.at < self.same_kill_seconds or self._at_once(kill, death.engine_at))
        ):
            kill = replace(kill, kind=OomKind.CONTAINER)
        self._sightings.append(_Sighting(replace(kill, seen_by=seen_by), now, {seen_by}))
        return True

    def may_be_late(self, now: float, seen_by: str, kill: OomKill) -> bool:
        """Whether a sighting could be a late word of a kill counted earlier: none within the
        window would take it, but an earlier kill of the container was not seen by its source
        (an engine busy for seconds tells of a kill late; so may one that told of two kills
        in one event). Only the container's counter, read after it, can tell which it is."""
        unseen = self._unseen_by(seen_by, kill.container_id)
        return bool(unseen) and all(now - s.seen_at >= self.same_kill_seconds for s in unseen)

    def told_late(self, now: float, seen_by: str, container_id: str) -> bool:
        """A sighting is of a kill already counted by a source that tells of every kill (the
        container's counter, the kernel's log): of the one within the window its source has
        not told of, else of the earliest such (sources tell of kills in their order). A word
        more than there were kills adds nothing. True when it went to a kill outside the
        window, or to none: a guess, which a death with 137 just after it may take back."""
        unseen = self._unseen_by(seen_by, container_id)
        recent = next((s for s in unseen if now - s.seen_at < self.same_kill_seconds), None)
        if recent is not None:
            recent.sources.add(seen_by)
            return False
        if unseen:
            unseen[-1].sources.add(seen_by)
        return True

    def _unseen_by(self, seen_by: str, container_id: str) -> list[_Sighting]:
        """The container's kills `seen_by` has not told of, the latest first."""
        return [
            sighting
            for sighting in reversed(self._sightings)
            if _same_container(sighting.kill.container_id, container_id) and seen_by not in sighting.sources
        ]

    def died(
        self, now: float, container_id: str, exit_code: int | None, engine_at: datetime | None = None
    ) -> bool:
        """A container exited (at `engine_at` by the engine's word); True when that makes an OOM
        kill counted just before its death."""
        self._deaths = {cid: d for cid, d in self._deaths.items() if now - d.at < self.same_kill_seconds}
        self._deaths[container_id] = _Death(exit_code, now, engine_at)
        if exit_code != SIGKILL_EXIT:
            return False
        for sighting in reversed(self._sightings):
            if _same_container(sighting.kill.container_id, container_id) and (
                now - sighting.seen_at < self.same_kill_seconds or self._at_once(sighting.kill, engine_at)
            ):
                sighting.kill = replace(sighting.kill, kind=OomKind.CONTAINER)
                return True
        return False

    @property
    def kills(self) -> tuple[OomKill, ...]:
        return tuple(sighting.kill for sighting in self._sightings)

    @property
    def told_by(self) -> tuple[frozenset[str], ...]:
        """The sources that told of each kill, in the order of `kills`."""
        return tuple(frozenset(sighting.sources) for sighting in self._sightings)

    def settle(
        self,
        now: float,
        engine: str,
        states: Sequence[ContainerState],
        samples: Mapping[str, MemorySample],
        since: datetime | None = None,
    ) -> list[OomKill]:
        """Take in what `docker inspect` says at the end: a container that exited with 137
        just after a kill of it died of that kill (whatever its flag says: Podman leaves it
        false). One that exited with 137 and whose state says OOMKilled died of its last kill
        also when that kill's time is unknown or was stamped after the death (an engine that
        told of it late), but not when the kill came long before it (a `docker kill` after a
        child's kill). Gives the kills no source had seen (now counted too). OOMKilled tells
        of a kill of any process in the container (Docker 20.10 sets it as the container
        stops, Docker 25 and later at the kill): one that still runs, or that exited with
        another code (its main process went on after the kill and ended by itself), lost a
        process, not its life. A flag set before `since` (the session's start) is not this
        session's kill."""
        unseen = []
        for state in states:
            if state.exit_code == SIGKILL_EXIT and not state.running:
                fatal = [
                    s
                    for s in self._sightings
                    if _same_container(s.kill.container_id, state.id)
                    and self._at_once(s.kill, state.finished_at)
                ]
                if fatal:  # the last kill before the death (one before it was of a process)
                    fatal[-1].kill = replace(fatal[-1].kill, kind=OomKind.CONTAINER)
            if not state.oom_killed or (since is not None and state.oom_flag_older_than(since)):
                continue
            died_of_it = state.exit_code == SIGKILL_EXIT and not state.running
            kind = OomKind.CONTAINER if died_of_it else OomKind.PROCESS
            mine = [s for s in self._sightings if _same_container(s.kill.container_id, state.id)]
            if mine:
                if died_of_it and not self._long_before(mine[-1].kill, state.finished_at):
                    mine[-1].kill = replace(mine[-1].kill, kind=kind)
                continue
            sample = next((s for cid, s in samples.items() if _same_container(cid, state.id)), None)
            kill = OomKill(
                state.id, state.name, state.service, kind, None, sample, "state", state.project, engine
            )
            self._sightings.append(_Sighting(kill, now, {"state"}))
            unseen.append(kill)
        return unseen

    def _at_once(self, kill: OomKill, death_at: datetime | None) -> bool:
        """Whether a death, at the engine's time, came just after a kill, at the kernel's time
        where its log told of it (else its first source's). A second is allowed the other way,
        for the two clocks."""
        apart = _seconds_apart(kill, death_at)
        return apart is not None and -CLOCKS_APART_SECONDS <= apart < self.same_kill_seconds

    def _long_before(self, kill: OomKill, death_at: datetime | None) -> bool:
        """Whether a kill came too long before a death to be its cause (never, when either
        time is unknown)."""
        apart = _seconds_apart(kill, death_at)
        return apart is not None and apart >= self.same_kill_seconds

    def _death_of(self, container_id: str) -> _Death | None:
        return next((d for cid, d in self._deaths.items() if _same_container(cid, container_id)), None)


def _seconds_apart(kill: OomKill, death_at: datetime | None) -> float | None:
    """Seconds from a kill, at the kernel's time where its log told of it (else its first
    source's), to a death at the engine's time; None when either is unknown."""
    kill_at = kill.kernel.at if kill.kernel is not None and kill.kernel.at is not None else kill.at
    if kill_at is None or death_at is None or (kill_at.tzinfo is None) != (death_at.tzinfo is None):
        return None
    return (death_at - kill_at).total_seconds()


def _same_container(one: str, other: str) -> bool:
    """IDs name the same container when one is a prefix of the other (docker shortens them)."""
    return bool(one) and bool(other) and (one.startswith(other) or other.startswith(one))
