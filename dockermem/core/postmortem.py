"""The OOM post-mortem `health` gives: the kills the kernel's log still holds, each joined to a
container of the engine by the ID in its cgroup path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dockermem.clock import Clock
from dockermem.config import Settings
from dockermem.docker.models import ContainerSummary
from dockermem.kernel.kmsg import logged_kills
from dockermem.kernel.oom_log import KernelOomKill


@dataclass(frozen=True)
class ContainerKill:
    """One OOM kill the kernel logged, of a container the engine still lists."""

    container: ContainerSummary
    kill: KernelOomKill


@dataclass(frozen=True)
class PostMortem:
    """The logged kills of the containers in scope, oldest first, and why the log could not be
    read (None when it was, or when it was not to be read: a remote engine, the setting off)."""

    kills: tuple[ContainerKill, ...] = ()
    notice: str | None = None


def read_post_mortem(
    settings: Settings, containers: Sequence[ContainerSummary], local_engine: bool, clock: Clock | None = None
) -> PostMortem:
    """The kernel's logged OOM kills of `containers` (a removed container is not listed, and its
    kills are let go). Read only for an engine on this machine, where the settings name a log."""
    if not settings.kernel_log or not local_engine:
        return PostMortem()
    kills, notice = logged_kills(Path(settings.kernel_log), clock)
    by_id = {container.id: container for container in containers}
    joined = tuple(
        ContainerKill(by_id[kill.container_id], kill)
        for kill in kills
        if kill.container_id is not None and kill.container_id in by_id
    )
    return PostMortem(joined, notice)
