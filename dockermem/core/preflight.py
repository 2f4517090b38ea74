"""Preflight: does a stack fit in the memory there is, before it starts?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import psutil

from dockermem.clock import current_clock
from dockermem.config import GIB, Settings
from dockermem.core.concurrency import Slot
from dockermem.core.engine_cache import cached_engine_info
from dockermem.core.readings import read_containers
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ComposeProjectConfig, ContainerSummary, EngineInfo, NamedResource
from dockermem.docker.system import PREDEFINED_NETWORKS
from dockermem.errors import ConfigError, DockermemError

if TYPE_CHECKING:
    from dockermem.core.history import ServiceHistory
from dockermem.units import format_bytes

# Host and engine totals this close are one machine's memory (a local engine, not a VM).
SAME_MACHINE_TOLERANCE = 0.05
# How far back a recorded peak counts for a service without a limit.
HISTORY_DAYS = 30
AUTO_PROFILE = "auto"


@dataclass(frozen=True)
class ServiceNeed:
    """One service's declared memory and what the preflight counts for it."""

    name: str
    limit_bytes: int | None
    reservation_bytes: int | None
    counted_bytes: int
    counted_from: str = "limit"  # "limit", "recorded peak" or "default"
    replicas: int = 1  # `deploy.replicas`, `scale` or `up --scale`; each counts at counted_bytes

    @property
    def unbounded(self) -> bool:
        return self.limit_bytes is None

    @property
    def total_bytes(self) -> int:
        """What all of the service's replicas count for."""
        return self.counted_bytes * self.replicas


@dataclass(frozen=True)
class CountCheck:
    """One Docker resource: how many there are, how many the stack adds, and the maximum."""

    kind: str
    current: int
    adding: int
    maximum: int

    @property
    def ok(self) -> bool:
        return self.current + self.adding <= self.maximum


@dataclass(frozen=True)
class MemoryBudget:
    """Where the available figure comes from."""

    host_available_bytes: int
    engine_total_bytes: int
    engine_in_use_bytes: int | None  # None: a local engine, whose use the host figure already counts
    margin_bytes: int
    cap_bytes: int

    @property
    def engine_free_bytes(self) -> int | None:
        if self.engine_in_use_bytes is None:
            return None
        return self.engine_total_bytes - self.engine_in_use_bytes

    @property
    def available_bytes(self) -> int:
        """min(host available, engine free) less the margin, never above DOCKER_MAX_MEMORY_GB."""
        free = self.host_available_bytes
        if self.engine_free_bytes is not None:
            free = min(free, self.engine_free_bytes)
        return max(0, min(free - self.margin_bytes, self.cap_bytes))

    def with_stack_running(self, stack_usage_bytes: int) -> MemoryBudget:
        """The budget measured while the stack runs: what the stack itself uses now is added
        back to the host's (and a VM engine's) free memory, as if it were not running."""
        in_use = self.engine_in_use_bytes
        return replace(
            self,
            host_available_bytes=self.host_available_bytes + stack_usage_bytes,
            engine_in_use_bytes=None if in_use is None else max(0, in_use - stack_usage_bytes),
        )


@dataclass(frozen=True)
class ProjectUsage:
    """Memory held by the running containers of another compose project."""

    project: str
    containers: int
    memory_bytes: int


@dataclass(frozen=True)
class PreflightResult:
    """The verdict, the figures behind it, and what to do when it fails."""

    project: str
    profile: str | None
    required_bytes: int
    budget: MemoryBudget
    services: tuple[ServiceNeed, ...]
    counts: tuple[CountCheck, ...]
    recommendations: tuple[str, ...]
    config: ComposeProjectConfig | None = None  # the stack as `docker compose config` resolved it

    @property
    def available_bytes(self) -> int:
        return self.budget.available_bytes

    @property
    def memory_ok(self) -> bool:
        return self.required_bytes <= self.available_bytes

    @property
    def ok(self) -> bool:
        return self.memory_ok and all(count.ok for count in self.counts)

    @property
    def shortfall_bytes(self) -> int:
        return max(0, self.required_bytes - self.available_bytes)


def profile_bytes(settings: Settings, name: str) -> int:
    """The memory of a named profile (sizes are GiB)."""
    if name not in settings.profiles_gb:
        known = ", ".join(sorted(settings.profiles_gb))
        raise ConfigError(f"unknown profile {name!r} (known: {known}, {AUTO_PROFILE})")
    return int(settings.profiles_gb[name] * GIB)


def service_needs(
    config: ComposeProjectConfig, unbounded_bytes: int, recorded_peaks: Mapping[str, int] | None = None
) -> tuple[ServiceNeed, ...]:
    """Each service at its limit (the worst case); one without a limit at its recorded peak
    when history has one, else at the default."""
    peaks = recorded_peaks or {}
    return tuple(
        ServiceNeed(
            name=service.name,
            limit_bytes=service.limit_bytes,
            reservation_bytes=service.reservation_bytes,
            counted_bytes=service.limit_bytes
            if service.limit_bytes is not None
            else peaks.get(service.name, unbounded_bytes),
            counted_from="limit"
            if service.limit_bytes is not None
            else "recorded peak"
            if service.name in peaks
            else "default",
            replicas=service.replicas,
        )
        for service in config.services
    )


def recorded_services(settings: Settings, project: str) -> list[ServiceHistory]:
    """What the history says of each service of the project over the last 30 days (nothing
    when history is off or was never recorded)."""
    from dockermem.core.history import HistoryStore  # sqlite3: only when a history file exists

    if not settings.history or not settings.history_path.exists():
        return []
    with HistoryStore(settings.history_path) as store:
        return store.service_report(current_clock().now() - timedelta(days=HISTORY_DAYS), project)


def recorded_peaks(settings: Settings, project: str) -> dict[str, int]:
    """Each service's peak in the last 30 days of history (nothing when there is none)."""
    return {row.service: row.peak_bytes for row in recorded_services(settings, project) if row.samples > 0}


def networks_added(config: ComposeProjectConfig) -> int:
    """Networks compose will create: the declared ones, plus `default` when a service uses it."""
    declared = set(config.networks)
    uses_default = any(
        service.network_mode is None or service.network_mode == "" for service in config.services
    ) and not declared - {"default"}
    return len(declared | ({"default"} if uses_default else set()))


def check_counts(
    settings: Settings,
    config: ComposeProjectConfig,
    containers: Sequence[ContainerSummary],
    networks: Sequence[NamedResource],
    volumes: Sequence[NamedResource],
    replicas: Mapping[str, int] | None = None,
) -> tuple[CountCheck, ...]:
    """Resource counts after the stack starts, against their maxima (its own existing
    resources are reused by compose, so they are not counted twice)."""
    wanted = replicas or {}
    stack_containers = sum(wanted.get(service.name, service.replicas) for service in config.services)
    own_containers = sum(1 for c in containers if c.project == config.name)
    own_networks = sum(1 for n in networks if n.project == config.name)
    own_volumes = sum(1 for v in volumes if v.project == config.name)
    return (
        CountCheck(
            "containers",
            len(containers),
            max(0, stack_containers - own_containers),
            settings.max_containers,
        ),
        CountCheck(
            "networks",
            len([n for n in networks if n.name not in PREDEFINED_NETWORKS]),
            max(0, networks_added(config) - own_networks),
            settings.max_networks,
        ),
        CountCheck("volumes", len(volumes), max(0, len(config.volumes) - own_volumes), settings.max_volumes),
    )


async def measure_budget(client: DockerClient, settings: Settings, engine: EngineInfo) -> MemoryBudget:
    """Host available memory, and the engine's free memory when the engine is not this host."""
    host = psutil.virtual_memory()
    same_machine = abs(engine.memory_total_bytes - host.total) <= SAME_MACHINE_TOLERANCE * host.total
    in_use: int | None = None
    if not same_machine:
        # Docker Desktop's VM or a remote engine: its memory is not the host's.
        running = [c for c in await client.container.ls() if c.state == "running"]
        in_use = sum(s.memory_usage_bytes for s in (await read_containers(client, settings, running)).stats)
    return MemoryBudget(
        host_available_bytes=host.available,
        engine_total_bytes=engine.memory_total_bytes,
        engine_in_use_bytes=in_use,
        margin_bytes=int(settings.safety_margin_gb * GIB),
        cap_bytes=settings.max_memory_bytes,
    )


async def project_usage(client: DockerClient, settings: Settings, exclude: str) -> list[ProjectUsage]:
    """Memory of the running compose projects other than `exclude`, largest first. Advice only:
    when it cannot be read, there is none."""
    running = [
        c for c in await client.container.ls() if c.state == "running" and c.project and c.project != exclude
    ]
    try:
        readings = await read_containers(client, settings, running)
    except DockermemError:
        return []
    stats = {s.id: s for s in readings.stats}
    usage: dict[str, list[int]] = {}
    for container in running:
        match = next((s for key, s in stats.items() if container.id.startswith(key)), None)
        usage.setdefault(container.project or "", []).append(match.memory_usage_bytes if match else 0)
    return sorted(
        (ProjectUsage(project, len(sizes), sum(sizes)) for project, sizes in usage.items()),
        key=lambda u: -u.memory_bytes,
    )


async def run_preflight(
    client: DockerClient,
    settings: Settings,
    files: Sequence[Path],
    project: str | None = None,
    profile: str | None = None,
    replicas: Mapping[str, int] | None = None,
) -> PreflightResult:
    """Compare what the stack needs (declared limits, or a named profile) with what is available.

    `replicas` sets a service's count (`up --scale`); one not named counts as its file says."""
    if profile is not None and profile != AUTO_PROFILE:
        profile_bytes(settings, profile)  # an unknown profile is bad usage: before any docker call
    config_slot: Slot[ComposeProjectConfig] = Slot()
    engine_slot: Slot[EngineInfo] = Slot()
    containers_slot: Slot[list[ContainerSummary]] = Slot()
    networks_slot: Slot[list[NamedResource]] = Slot()
    volumes_slot: Slot[list[NamedResource]] = Slot()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(config_slot.fill, lambda: client.compose.config(files, project))
        tasks.start_soon(engine_slot.fill, lambda: cached_engine_info(client, settings))
        tasks.start_soon(containers_slot.fill, client.container.ls)
        tasks.start_soon(networks_slot.fill, client.network.ls)
        tasks.start_soon(volumes_slot.fill, client.volume.ls)
    config = config_slot.value
    budget = await measure_budget(client, settings, engine_slot.value)
    unbounded = any(service.limit_bytes is None for service in config.services)
    peaks = recorded_peaks(settings, project or config.name) if unbounded else {}
    services = service_needs(config, int(settings.unbounded_service_gb * GIB), peaks)
    if replicas:
        services = tuple(replace(s, replicas=replicas.get(s.name, s.replicas)) for s in services)
    if profile is None or profile == AUTO_PROFILE:
        required = sum(service.total_bytes for service in services)
    else:
        required = profile_bytes(settings, profile)
    counts = check_counts(
        settings, config, containers_slot.value, networks_slot.value, volumes_slot.value, replicas
    )

    others = await project_usage(client, settings, config.name) if required > budget.available_bytes else []
    advice = recommendations(settings, required, budget, services, counts, others)
    return PreflightResult(
        project=config.name,
        profile=profile,
        required_bytes=required,
        budget=budget,
        services=services,
        counts=counts,
        recommendations=tuple(advice),
        config=config,
    )


def recommendations(
    settings: Settings,
    required: int,
    budget: MemoryBudget,
    services: Sequence[ServiceNeed],
    counts: Sequence[CountCheck],
    other_projects: Sequence[ProjectUsage],
) -> list[str]:
    """What to do about a stack that does not fit, and about services without a limit."""
    advice: list[str] = []
    available = budget.available_bytes
    if required > available:
        short = format_bytes(required - available)
        advice.append(
            f"The stack needs {format_bytes(required)} but {format_bytes(available)} is available "
            f"(after a {format_bytes(budget.margin_bytes)} margin): short by {short}."
        )
        smaller = [
            (size, name)
            for name, size_gb in settings.profiles_gb.items()
            if (size := int(size_gb * GIB)) <= available and size < required
        ]
        if smaller:
            size, name = max(smaller)
            advice.append(f"Use the smaller profile '{name}' ({format_bytes(size)}), which fits.")
        advice.extend(
            f"Stopping project '{usage.project}' ({usage.containers} running containers) "
            f"would free about {format_bytes(usage.memory_bytes)}."
            for usage in other_projects
            if usage.memory_bytes > 0
        )
    advice.extend(
        f"{count.kind.capitalize()}: {count.current} exist and the stack adds {count.adding}, above the "
        f"maximum of {count.maximum}; `dockermem cleanup` removes stopped test resources."
        for count in counts
        if not count.ok
    )
    unbounded = [service for service in services if service.unbounded]
    if unbounded:
        counted = ", ".join(
            f"{service.name} ({format_bytes(service.counted_bytes)}, {service.counted_from})"
            for service in unbounded
        )
        advice.append(f"No memory limit on {counted}; set mem_limit or deploy.resources.limits.memory.")
    return advice


def with_replicas(
    settings: Settings, result: PreflightResult, replicas: Mapping[str, int]
) -> PreflightResult:
    """The same preflight with some services counted at other replica counts (no docker call:
    the budget and the counts are the ones measured)."""
    if result.profile not in (None, AUTO_PROFILE):
        raise ConfigError("a replica count cannot be judged against a named profile")
    services = tuple(replace(s, replicas=replicas.get(s.name, s.replicas)) for s in result.services)
    added = sum(new.replicas - old.replicas for new, old in zip(services, result.services, strict=True))
    counts = tuple(
        replace(count, adding=max(0, count.adding + added)) if count.kind == "containers" else count
        for count in result.counts
    )
    required = sum(service.total_bytes for service in services)
    advice = recommendations(settings, required, result.budget, services, counts, [])
    return replace(
        result, required_bytes=required, services=services, counts=counts, recommendations=tuple(advice)
    )
