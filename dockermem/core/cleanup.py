"""Cleanup of stale test resources: stopped compose containers, then their networks, then
volumes. Never a running container, never anything outside the scope, and (as testcontainers'
Ryuk does) nothing created after the sweep began."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import anyio

from dockermem.core.concurrency import Slot
from dockermem.core.counters import CleanupCounters
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ContainerSummary, NamedResource
from dockermem.errors import DockermemError

SIZE_SECONDS = 10.0  # `docker inspect --size` walks each container's files


@dataclass(frozen=True)
class CleanupScope:
    """Which compose projects a cleanup may touch: one by name, or those matching a glob."""

    project: str | None = None
    project_glob: str | None = None

    def includes(self, project: str | None) -> bool:
        if project is None:
            return False
        if self.project is not None:
            return project == self.project
        return self.project_glob is not None and fnmatch.fnmatchcase(project, self.project_glob)

    def describe(self) -> str:
        return (
            f"project {self.project}"
            if self.project is not None
            else f"projects matching {self.project_glob!r}"
        )


@dataclass(frozen=True)
class CleanupPlan:
    """What a cleanup removes (or, with --dry-run, would remove)."""

    scope: CleanupScope
    started_at: datetime
    containers: tuple[ContainerSummary, ...]
    networks: tuple[NamedResource, ...]
    volumes: tuple[NamedResource, ...]
    kept: tuple[str, ...]  # in scope but kept, with the reason
    projects_found: tuple[str, ...] = ()  # the projects in scope that anything listed belongs to
    container_bytes: dict[str, int] = field(default_factory=dict)  # writable layer, by container ID

    @property
    def empty(self) -> bool:
        return not (self.containers or self.networks or self.volumes)

    @property
    def containers_bytes(self) -> int | None:
        """The disk the containers' writable layers take (None when the engine gave no size)."""
        sizes = [self.container_bytes[c.id] for c in self.containers if c.id in self.container_bytes]
        return sum(sizes) if sizes else None


@dataclass(frozen=True)
class CleanupOutcome:
    """What a cleanup did remove, and what docker refused."""

    plan: CleanupPlan
    removed_containers: tuple[str, ...]
    removed_networks: tuple[str, ...]
    removed_volumes: tuple[str, ...]
    refused: tuple[str, ...]

    @property
    def counters(self) -> CleanupCounters:
        return CleanupCounters(
            cleanup_runs=1,
            containers_removed=len(self.removed_containers),
            networks_removed=len(self.removed_networks),
            volumes_removed=len(self.removed_volumes),
        )


def _made_before(created_at: datetime | None, started_at: datetime, older_than: timedelta | None) -> bool:
    """Made before the sweep began (docker gives whole seconds: the sweep's own second is
    excluded) and, with --older-than, at least that long before it."""
    if created_at is None:
        return False
    if created_at >= started_at.replace(microsecond=0):
        return False
    return older_than is None or created_at <= started_at - older_than


def select_containers(
    containers: Sequence[ContainerSummary],
    scope: CleanupScope,
    started_at: datetime,
    older_than: timedelta | None,
) -> tuple[list[ContainerSummary], list[str]]:
    """The stopped, compose-made containers in scope that may go, and why others stay."""
    chosen: list[ContainerSummary] = []
    kept: list[str] = []
    for container in containers:
        if not scope.includes(container.project):
            continue
        if not container.is_compose_managed:
            kept.append(f"container {container.name}: carries the project label but was not made by compose")
        elif not container.stopped:
            kept.append(f"container {container.name}: {container.state}")
        elif not _made_before(container.created_at, started_at, older_than):
            kept.append(f"container {container.name}: too recent")
        else:
            chosen.append(container)
    return chosen, kept


def select_project_resources(
    resources: Sequence[NamedResource],
    kind: str,
    scope: CleanupScope,
    busy_projects: set[str],
    started_at: datetime,
    older_than: timedelta | None,
) -> tuple[list[NamedResource], list[str]]:
    """Compose-made networks or volumes in scope whose project keeps no container."""
    chosen: list[NamedResource] = []
    kept: list[str] = []
    for resource in resources:
        if not scope.includes(resource.project):
            continue
        if not resource.is_compose_managed:
            kept.append(f"{kind} {resource.name}: not made by compose")
        elif resource.project in busy_projects:
            kept.append(f"{kind} {resource.name}: its project keeps containers")
        elif not _made_before(resource.created_at, started_at, older_than):
            kept.append(f"{kind} {resource.name}: too recent")
        else:
            chosen.append(resource)
    return chosen, kept


async def plan_cleanup(
    client: DockerClient,
    scope: CleanupScope,
    started_at: datetime,
    *,
    older_than: timedelta | None = None,
    named_volumes: bool = False,
    with_sizes: bool = False,
) -> CleanupPlan:
    """Decide what goes. `started_at` is taken before anything is listed. `with_sizes` asks the
    engine for the containers' writable layers (one more docker call: not in an emergency)."""
    containers_slot: Slot[list[ContainerSummary]] = Slot()
    networks_slot: Slot[list[NamedResource]] = Slot()
    volumes_slot: Slot[list[NamedResource]] = Slot()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(containers_slot.fill, client.container.ls)
        tasks.start_soon(networks_slot.fill, client.network.ls)
        tasks.start_soon(volumes_slot.fill, client.volume.ls)
    containers, kept = select_containers(containers_slot.value, scope, started_at, older_than)
    leaving = {c.id for c in containers}
    # Projects whose own (compose-made) containers stay keep their networks and volumes.
    busy = {
        c.project for c in containers_slot.value if c.is_compose_managed and c.project and c.id not in leaving
    }
    networks, kept_networks = select_project_resources(
        networks_slot.value, "network", scope, busy, started_at, older_than
    )
    volumes: list[NamedResource] = []
    kept_volumes: list[str] = []
    if named_volumes:
        candidates = [v for v in volumes_slot.value if scope.includes(v.project)]
        created = await client.volume.created_at([v.name for v in candidates])
        dated = [replace(v, created_at=created.get(v.name)) for v in candidates]
        volumes, kept_volumes = select_project_resources(dated, "volume", scope, busy, started_at, older_than)
    projects = [c.project for c in containers_slot.value] + [
        resource.project for resource in (*networks_slot.value, *volumes_slot.value)
    ]
    found = sorted({project for project in projects if project is not None and scope.includes(project)})
    return CleanupPlan(
        scope=scope,
        started_at=started_at,
        containers=tuple(containers),
        networks=tuple(networks),
        volumes=tuple(volumes),
        kept=tuple(kept + kept_networks + kept_volumes),
        projects_found=tuple(found),
        container_bytes=await _writable_sizes(client, containers) if with_sizes else {},
    )


async def _writable_sizes(client: DockerClient, containers: Sequence[ContainerSummary]) -> dict[str, int]:
    """The containers' writable layers, or none when the engine does not say in time (a size is
    worth showing, never worth failing or holding up the cleanup for)."""
    try:
        with anyio.fail_after(SIZE_SECONDS):
            return await client.container.writable_sizes([c.id for c in containers])
    except (DockermemError, TimeoutError):
        return {}


async def apply_cleanup(client: DockerClient, plan: CleanupPlan) -> CleanupOutcome:
    """Remove what the plan names: containers (with their anonymous volumes), then networks,
    then named volumes. Docker refuses anything that came into use meanwhile; that is reported."""
    containers = await client.container.remove([c.id for c in plan.containers])
    networks = await client.network.remove([n.name for n in plan.networks])
    volumes = await client.volume.remove([v.name for v in plan.volumes])
    refused = containers.refused + networks.refused + volumes.refused
    return CleanupOutcome(plan, containers.removed, networks.removed, volumes.removed, refused)
