"""Preflight: does a stack fit in the memory there is, before it starts?"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import psutil

from dockermem.clock import current_clock
from dockermem.config import GIB, Settings, environment_name
from dockermem.core.concurrency import Slot
from dockermem.core.engine_cache import cached_engine_info
from dockermem.core.readings import read_containers
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ComposeProjectConfig, ContainerSummary, EngineInfo, NamedResource
from dockermem.docker.system import PREDEFINED_NETWORKS
from dockermem.errors import ConfigError, DockermemError

if TYPE_CHECKING:
    from dockermem.core.history import ServiceHistory
from dockermem.units import format_bytes, plural

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
    counted_from: str = "limit"  # "limit", "reservation", "recorded peak" or "default"
    replicas: int = 1  # `deploy.replicas`, `scale` or `up --scale`; each counts at counted_bytes
    recorded_runs: int = 0  # the runs its recorded peak was taken over

    @property
    def unbounded(self) -> bool:
        return self.limit_bytes is None

    @property
    def estimate(self) -> str:
        """How its figure was had: `declared` (its limit, or without one its reservation),
        `recorded` (its peak in the history) or `default` (a guess: `unbounded_service_gb`)."""
        declared = {"limit": "declared", "reservation": "declared", "recorded peak": "recorded"}
        return declared.get(self.counted_from, "default")

    @property
    def estimate_text(self) -> str:
        """`declared`, `declared reservation`, `recorded over 3 runs`, `default guess`."""
        if self.estimate == "recorded":
            return f"recorded over {self.recorded_runs} run{'s' if self.recorded_runs != 1 else ''}"
        if self.counted_from == "reservation":
            return "declared reservation"
        return "default guess" if self.estimate == "default" else "declared"

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
class Holders:
    """Resources of one kind besides the stack's own: those compose made, by project (most
    first), and the others."""

    in_projects: tuple[tuple[str, int], ...] = ()
    elsewhere: int = 0

    @classmethod
    def of(cls, resources: Iterable[ContainerSummary | NamedResource]) -> Holders:
        """The resources counted by the compose project that made each, or as made otherwise."""
        by_project: Counter[str] = Counter()
        elsewhere = 0
        for resource in resources:
            if resource.is_compose_managed and resource.project:
                by_project[resource.project] += 1
            else:
                elsewhere += 1
        return cls(tuple(by_project.most_common()), elsewhere)

    @property
    def in_projects_count(self) -> int:
        return sum(count for _, count in self.in_projects)


@dataclass(frozen=True)
class ResourceCensus:
    """The containers, networks and volumes there are besides the stack's own, by what would
    free their places: stopped containers compose made (`dockermem cleanup` removes them) or
    not (cleanup leaves those), running ones, and compose projects' networks and volumes."""

    stopped: Holders = Holders()
    running: Holders = Holders()
    networks: Holders = Holders()
    volumes: Holders = Holders()

    @classmethod
    def of(
        cls,
        containers: Sequence[ContainerSummary],
        networks: Sequence[NamedResource],
        volumes: Sequence[NamedResource],
        own_project: str,
    ) -> ResourceCensus:
        """The census of what docker lists, the stack's own left out (compose reuses them);
        a container neither stopped nor running (being removed) is in neither count."""
        others = [container for container in containers if container.project != own_project]
        return cls(
            stopped=Holders.of(c for c in others if c.stopped),
            running=Holders.of(c for c in others if c.running),
            networks=Holders.of(
                n for n in networks if n.project != own_project and n.name not in PREDEFINED_NETWORKS
            ),
            volumes=Holders.of(v for v in volumes if v.project != own_project),
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
    declared_bytes: int | None = None  # what the services count for (required, without a profile)
    profile_bytes: int | None = None  # the named memory profile's budget
    compose_profiles: tuple[str, ...] = ()  # compose's own profiles, as given
    census: ResourceCensus = ResourceCensus()  # what else there is, for the counts' advice
    selected: tuple[str, ...] = ()  # the services named (with what they depend on); none: all

    @property
    def available_bytes(self) -> int:
        return self.budget.available_bytes

    @property
    def within_profile(self) -> bool:
        """The services fit within the named memory profile (true without one)."""
        return self.profile_bytes is None or (self.declared_bytes or 0) <= self.profile_bytes

    @property
    def memory_ok(self) -> bool:
        return self.required_bytes <= self.available_bytes and self.within_profile

    @property
    def guessed_bytes(self) -> int:
        """What the services counted at the default guess (no limit, no history) add up to."""
        return guessed_bytes(self.services)

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
    config: ComposeProjectConfig, unbounded_bytes: int, history: Sequence[ServiceHistory] = ()
) -> tuple[ServiceNeed, ...]:
    """Each service at its limit (the worst case); one without a limit at its recorded peak
    when history has one, else at the default, and never below its reservation (what it is
    declared to need when memory is short)."""
    recorded = {row.service: row for row in history if row.samples > 0}
    needs = []
    for service in config.services:
        row = recorded.get(service.name)
        reservation = service.reservation_bytes
        if service.limit_bytes is not None:
            counted, source, runs = service.limit_bytes, "limit", 0
        elif row is not None:
            counted, source, runs = row.peak_bytes, "recorded peak", row.runs
        else:
            counted, source, runs = unbounded_bytes, "default", 0
        if service.limit_bytes is None and reservation is not None and reservation > counted:
            counted, source, runs = reservation, "reservation", 0
        needs.append(
            ServiceNeed(service.name, service.limit_bytes, service.reservation_bytes, counted, source,
                        service.replicas, runs)
        )  # fmt: skip
    return tuple(needs)


@dataclass(frozen=True)
class RecordedRuns:
    """What the history says of a project over the last 30 days."""

    services: list[ServiceHistory]  # each service's peak (empty unless asked for)
    host_oom_kills: int  # the host's own OOM kills while the project ran


def recorded_runs(settings: Settings, project: str, *, with_peaks: bool = True) -> RecordedRuns:
    """The project's recorded runs of the last 30 days: the host's OOM kills, and each service's
    peak when `with_peaks` (the costlier question, only worth asking for a service without a
    limit to count by). Nothing when history is off or was never recorded."""
    from dockermem.core.history import HistoryStore  # sqlite3: only when a history file exists

    if not settings.history or not settings.history_path.exists():
        return RecordedRuns([], 0)
    since = current_clock().now() - timedelta(days=HISTORY_DAYS)
    with HistoryStore(settings.history_path) as store:
        if not with_peaks:
            return RecordedRuns([], store.host_oom_kills(since, project))
        services = store.service_report(since, project)
        return RecordedRuns(services, sum(row.host_oom_kills for row in services))


def guessed_bytes(services: Sequence[ServiceNeed]) -> int:
    """What the services counted at the default guess (no limit, no history) add up to."""
    return sum(service.total_bytes for service in services if service.estimate == "default")


def memory_profile_budget(settings: Settings, profile: str | None) -> int | None:
    """The budget of a named memory profile; None without one (or with `auto`)."""
    return None if profile is None or profile == AUTO_PROFILE else profile_bytes(settings, profile)


def host_kills_advice(kills: int) -> list[str]:
    """What the recorded kills of the host's own OOM killer say: the machine, not a limit, ran
    out while this stack ran."""
    if not kills:
        return []
    times = "once" if kills == 1 else f"{kills} times"
    return [
        f"The host ran out of memory {times} while this stack ran in the last {HISTORY_DAYS} days (the "
        "kernel's own OOM killer, not a container's limit): leave more memory free beside it"
    ]


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


async def project_usage(
    client: DockerClient, settings: Settings, exclude: str, listed: Sequence[ContainerSummary]
) -> list[ProjectUsage]:
    """Memory of the running compose projects other than `exclude` (of the containers listed),
    largest first. Advice only: when it cannot be read, there is none."""
    running = [c for c in listed if c.state == "running" and c.project and c.project != exclude]
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
    *,
    compose_profiles: Sequence[str] = (),
    env_files: Sequence[Path] = (),
    services: Sequence[str] = (),
) -> PreflightResult:
    """Compare what the stack needs with what is available. The need is what its services
    declare (or, without a limit, their recorded peak or the default). A named memory profile
    (`profile`) is a budget the stack must fit within: it never lowers the need.

    `replicas` sets a service's count (`up --scale`); one not named counts as its file says.
    `compose_profiles` and `env_files` are compose's own `--profile` and `--env-file`.
    `services` are those `up SERVICE...` names: only they and what they depend on count, as
    compose resolves them (an unknown one is an `UnknownServiceError`)."""
    budget_bytes = memory_profile_budget(settings, profile)  # an unknown one: before any docker call
    config_slot: Slot[ComposeProjectConfig] = Slot()
    engine_slot: Slot[EngineInfo] = Slot()
    containers_slot: Slot[list[ContainerSummary]] = Slot()
    networks_slot: Slot[list[NamedResource]] = Slot()
    volumes_slot: Slot[list[NamedResource]] = Slot()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(
            config_slot.fill,
            lambda: client.compose.config(files, project, compose_profiles, env_files, services),
        )
        tasks.start_soon(engine_slot.fill, lambda: cached_engine_info(client, settings))
        tasks.start_soon(containers_slot.fill, client.container.ls)
        tasks.start_soon(networks_slot.fill, client.network.ls)
        tasks.start_soon(volumes_slot.fill, client.volume.ls)
    config = config_slot.value
    await refuse_memory_profile_names(client, settings, files, project, compose_profiles, env_files)
    budget = await measure_budget(client, settings, engine_slot.value)
    # The whole history (each service's peak) only for services without a limit to count by it.
    recorded_as = project or config.name
    unbounded = any(service.limit_bytes is None for service in config.services)
    recorded = recorded_runs(settings, recorded_as, with_peaks=unbounded)
    needs = service_needs(config, int(settings.unbounded_service_gb * GIB), recorded.services)
    if replicas:
        needs = tuple(replace(s, replicas=replicas.get(s.name, s.replicas)) for s in needs)
    declared = sum(service.total_bytes for service in needs)
    required = declared if budget_bytes is None else max(declared, budget_bytes)
    counts = check_counts(
        settings, config, containers_slot.value, networks_slot.value, volumes_slot.value, replicas
    )
    short = required > budget.available_bytes
    others = await project_usage(client, settings, config.name, containers_slot.value) if short else []
    # Services named start whatever their profiles: COMPOSE_PROFILES would choose nothing.
    alternatives = (
        compose_profile_alternatives(config, needs, budget.available_bytes) if short and not services else []
    )
    census = ResourceCensus.of(containers_slot.value, networks_slot.value, volumes_slot.value, config.name)
    advice = recommendations(
        settings, required, budget, needs, counts, others, declared, profile, budget_bytes, census
    )
    return PreflightResult(
        project=config.name,
        profile=profile,
        required_bytes=required,
        budget=budget,
        services=needs,
        counts=counts,
        recommendations=tuple(advice + alternatives + host_kills_advice(recorded.host_oom_kills)),
        config=config,
        declared_bytes=declared,
        profile_bytes=budget_bytes,
        compose_profiles=tuple(compose_profiles),
        census=census,
        selected=tuple(services),
    )


async def refuse_memory_profile_names(
    client: DockerClient,
    settings: Settings,
    files: Sequence[Path],
    project: str | None,
    compose_profiles: Sequence[str],
    env_files: Sequence[Path],
) -> None:
    """`--profile standard` where the files declare no compose profile `standard`: the user
    meant the memory profile, which `--profile` named before it meant compose's (bad usage)."""
    named = [name for name in compose_profiles if name in settings.profiles_gb]
    if not named:
        return
    declared = await client.compose.profiles(files, project, env_files)
    for name in named:
        if name not in declared:
            raise ConfigError(
                f"--profile {name}: the compose files declare no profile {name!r} (--profile enables "
                f"compose's profiles); for the memory profile, use --memory-profile {name}"
            )


def compose_profile_alternatives(
    config: ComposeProjectConfig, services: Sequence[ServiceNeed], available: int
) -> list[str]:
    """For a stack that does not fit: the smaller stacks its active compose profiles make, each
    alone, that do fit, largest first (`COMPOSE_PROFILES=errors-only needs 14.0GiB and fits`).
    A profile only adds services to those that have none, so every smaller choice is made of
    services compose already resolved: no other compose call is needed."""
    profiles_of = {service.name: service.profiles for service in config.services}
    active = sorted({name for profiles in profiles_of.values() for name in profiles})
    if not active:
        return []

    def need(profile: str | None) -> int:
        chosen = [s for s in services if not profiles_of.get(s.name) or profile in profiles_of[s.name]]
        return sum(service.total_bytes for service in chosen)

    choices = [(need(name), f"COMPOSE_PROFILES={name}") for name in active if len(active) > 1]
    choices.append((need(None), "Without compose profiles (COMPOSE_PROFILES empty), the stack"))
    fitting = sorted((choice for choice in choices if choice[0] <= available), reverse=True)
    if not fitting:
        each = ", ".join(f"{what.split(',')[0]} {format_bytes(needed)}" for needed, what in sorted(choices))
        return [f"No smaller choice of compose profiles fits either ({each})."]
    return [f"{what} needs {format_bytes(needed)} and fits." for needed, what in fitting]


# A list of services in a recommendation names this many, then says how many more.
NAMED_IN_A_LIST = 5


def count_advice(count: CountCheck, census: ResourceCensus) -> str:
    """A resource count above its maximum, and what frees places: what the containers,
    networks or volumes there are (stopped or running, in which compose projects, or not made
    by compose), each with the command that frees it. Every command given runs as written."""
    setting = environment_name(f"max_{count.kind}")
    said = (
        f"{count.kind.capitalize()}: {count.current} {'exists' if count.current == 1 else 'exist'} and the "
        f"stack adds {count.adding}, above the maximum of {count.maximum} ({setting})."
    )
    parts = [said]
    if count.kind == "containers":
        parts += _container_advice(census)
        running = census.running.in_projects or census.running.elsewhere
        parts.append(
            f"Stop what no test needs, or raise {setting}." if running else _or_raise(parts, setting)
        )
        return " ".join(parts)
    holders = census.networks if count.kind == "networks" else census.volumes
    if holders.in_projects:
        volumes = " --volumes" if count.kind == "volumes" else ""
        parts.append(
            f"{holders.in_projects_count} {'belongs' if holders.in_projects_count == 1 else 'belong'} to "
            f"compose projects ({_by_project(holders.in_projects)}): "
            f"`{_cleanup_command(holders.in_projects)}{volumes}` removes a project's stopped containers, "
            f"then its {count.kind}{' (named ones with their data)' if volumes else ''} once none of its "
            "containers is left (it lists them and asks first)."
        )
    if holders.elsewhere:
        # Docker 23 and later prune only anonymous volumes unless given --all (API 1.42).
        every = ", named ones too with --all on Docker 23 and later" if count.kind == "volumes" else ""
        parts.append(
            f"{_are(holders.elsewhere)} not made by compose (`docker {count.kind[:-1]} prune` removes those "
            f"no container uses{every})."
        )
    parts.append(_or_raise(parts, setting))
    return " ".join(parts)


def _or_raise(parts: Sequence[str], setting: str) -> str:
    """The last advice of a count: raise its maximum, as another way when one was given."""
    return f"Or raise {setting}." if len(parts) > 1 else f"Raise {setting}."


def _container_advice(census: ResourceCensus) -> list[str]:
    """What the containers besides the stack's own are, each kind with what frees it."""
    parts: list[str] = []
    stopped, running = census.stopped, census.running
    if stopped.in_projects:
        parts.append(
            f"{_are(stopped.in_projects_count)} stopped in compose projects "
            f"({_by_project(stopped.in_projects)}): `{_cleanup_command(stopped.in_projects)}` removes them "
            "(it lists them and asks first)."
        )
    if stopped.elsewhere:
        parts.append(
            f"{_are(stopped.elsewhere)} stopped and not made by compose, which dockermem cleanup leaves "
            "(`docker container prune` removes every stopped container)."
        )
    if running.in_projects:
        parts.append(
            f"{_are(running.in_projects_count)} running in compose projects "
            f"({_by_project(running.in_projects)}): `docker compose -p {running.in_projects[0][0]} down` "
            "stops and removes one project's containers."
        )
    if running.elsewhere:
        parts.append(f"{_are(running.elsewhere)} running outside any compose project.")
    return parts


def _cleanup_command(in_projects: Sequence[tuple[str, int]]) -> str:
    """The cleanup of one project, or of every project when there are several."""
    if len(in_projects) == 1:
        return f"dockermem cleanup -p {in_projects[0][0]}"
    return "dockermem cleanup --all-projects '*'"


def _are(count: int) -> str:
    """`1 is`, `3 are`."""
    return f"{count} {'is' if count == 1 else 'are'}"


def _by_project(counts: Sequence[tuple[str, int]]) -> str:
    """`'shop' 3, 'old' 1`, the first few named and how many more."""
    named = ", ".join(f"'{project}' {count}" for project, count in counts[:NAMED_IN_A_LIST])
    more = len(counts) - NAMED_IN_A_LIST
    return named + (f" and {plural(more, 'more project')}" if more > 0 else "")


def recommendations(
    settings: Settings,
    required: int,
    budget: MemoryBudget,
    services: Sequence[ServiceNeed],
    counts: Sequence[CountCheck],
    other_projects: Sequence[ProjectUsage],
    declared: int | None = None,
    profile: str | None = None,
    budget_bytes: int | None = None,
    census: ResourceCensus = ResourceCensus(),
) -> list[str]:
    """What to do about a stack that does not fit, and about services without a limit.
    `declared` is what the services count for (`required` without a memory profile);
    `budget_bytes` is the memory profile `profile`'s budget; `census` says what else there is,
    for a count above its maximum."""
    advice: list[str] = []
    available = budget.available_bytes
    declared = required if declared is None else declared
    if budget_bytes is not None and declared > budget_bytes:
        advice.append(
            f"The services declare {format_bytes(declared)}, more than the memory profile '{profile}' "
            f"({format_bytes(budget_bytes)}): a profile is a budget, and never lowers what the services need."
        )
    if required > available:
        short = format_bytes(required - available)
        advice.append(
            f"The stack needs {format_bytes(required)} but {format_bytes(available)} is available "
            f"(after a {format_bytes(budget.margin_bytes)} margin): short by {short}."
        )
        advice.extend(
            f"Stopping project '{usage.project}' ({plural(usage.containers, 'running container')}) "
            f"would free about {format_bytes(usage.memory_bytes)}."
            for usage in other_projects
            if usage.memory_bytes > 0
        )
    advice.extend(count_advice(count, census) for count in counts if not count.ok)
    guessed = guessed_bytes(services)
    if required and guessed * 2 > declared:
        advice.append(
            f"More than half of the need ({format_bytes(guessed)} of {format_bytes(declared)}) is a default "
            f"guess of {format_bytes(int(settings.unbounded_service_gb * GIB))} per service without a limit "
            "or a recorded peak: set their limits, or run the stack once under `dockermem up` to record them."
        )
    unbounded = [service for service in services if service.unbounded and service.replicas > 0]
    if unbounded:
        named = ", ".join(
            f"{service.name} ({format_bytes(service.counted_bytes)}, {service.estimate_text})"
            for service in unbounded[:NAMED_IN_A_LIST]
        )
        more = len(unbounded) - NAMED_IN_A_LIST
        named += f" and {more} more" if more > 0 else ""
        advice.append(
            f"No memory limit on {plural(len(unbounded), 'service')}: {named}. "
            "Set mem_limit or deploy.resources.limits.memory."
        )
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
    advice = recommendations(settings, required, result.budget, services, counts, [], census=result.census)
    return replace(
        result, required_bytes=required, declared_bytes=required, services=services, counts=counts,
        recommendations=tuple(advice),
    )  # fmt: skip
