"""OOM attribution: which container (or which process inside one) the OOM killer hit, and when.

A container killed by the OOM killer has `State.OOMKilled`, or exited 137 with an `oom` event.
A process killed inside a container that lives on leaves only the `oom` event: the container
stays `running` and `OOMKilled` stays false. Exit code 137 alone is a SIGKILL, not an OOM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from dockermem.docker.models import ContainerEvent, ContainerState

SIGKILL_EXIT = 137


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

    def describe(self) -> str:
        from dockermem.units import format_bytes

        who = self.service or self.name
        what = (
            f"{who} was OOM-killed"
            if self.kind is OomKind.CONTAINER
            else f"a process in {who} was OOM-killed"
        )
        when = f" at {self.at:%H:%M:%S}" if self.at else ""
        memory = ""
        if self.last_sample is not None:
            limit = (
                "no limit"
                if self.last_sample.limit_bytes is None
                else format_bytes(self.last_sample.limit_bytes)
            )
            memory = f" (last seen at {format_bytes(self.last_sample.usage_bytes)} of {limit})"
        return what + when + memory


def attribute_ooms(
    events: Sequence[ContainerEvent],
    states: Sequence[ContainerState],
    last_samples: Mapping[str, MemorySample],
) -> list[OomKill]:
    """Every OOM kill the events and the containers' states show, one per OOM event (or one
    for a container whose state says OOMKilled though its event was missed)."""
    state_by_id = {state.id: state for state in states}
    kills: list[OomKill] = []
    seen_container_kill: set[str] = set()
    for event in events:
        if event.action != "oom":
            continue
        state = _find(state_by_id, event.container_id)
        container_died = _next_event_is_oom_death(events, event)
        if not container_died and state is not None and state.oom_killed:
            # The state says the container died of it: true of the last oom event only.
            container_died = not any(
                later.action == "oom" and later.container_id == event.container_id and later.time > event.time
                for later in events
            )
        if container_died and event.container_id in seen_container_kill:
            continue  # one death, reported once
        kind = OomKind.CONTAINER if container_died else OomKind.PROCESS
        if container_died:
            seen_container_kill.add(event.container_id)
        kills.append(
            OomKill(
                container_id=event.container_id,
                name=event.name or (state.name if state else event.container_id[:12]),
                service=event.service or (state.service if state else None),
                kind=kind,
                at=event.time,
                last_sample=_sample_for(last_samples, event.container_id),
            )
        )
    kills.extend(
        OomKill(
            state.id, state.name, state.service, OomKind.CONTAINER, None, _sample_for(last_samples, state.id)
        )
        for state in states
        if state.oom_killed and state.id not in seen_container_kill
    )
    return kills


def _next_event_is_oom_death(events: Sequence[ContainerEvent], oom: ContainerEvent) -> bool:
    """True when the container's next oom or die event after this oom is a die with 137."""
    later = sorted(
        (
            other
            for other in events
            if other.container_id == oom.container_id
            and other.action in ("oom", "die")
            and other.time >= oom.time
            and other is not oom
        ),
        key=lambda other: other.time,
    )
    return bool(later) and later[0].action == "die" and later[0].exit_code == SIGKILL_EXIT


def _find(state_by_id: Mapping[str, ContainerState], container_id: str) -> ContainerState | None:
    return state_by_id.get(container_id) or next(
        (state for key, state in state_by_id.items() if key.startswith(container_id)), None
    )


def _sample_for(samples: Mapping[str, MemorySample], container_id: str) -> MemorySample | None:
    return samples.get(container_id) or next(
        (
            sample
            for key, sample in samples.items()
            if key.startswith(container_id) or container_id.startswith(key)
        ),
        None,
    )
