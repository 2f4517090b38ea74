"""Memory-based scaling: how many replicas of a service fit the preflight budget (`up --scale`),
how many test workers fit beside a stack (`fit`), and the autoscaler that sheds a replica at
CRITICAL and adds one back after a calm period at SAFE (`up --autoscale`, `watch --autoscale`).

The choosing and the deciding are pure functions; `Autoscaler` carries them out through the
typed docker calls. Nothing here prints."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import anyio

from dockermem.config import Settings
from dockermem.core.preflight import (
    MemoryBudget,
    PreflightResult,
    measure_budget,
    run_preflight,
    with_replicas,
)
from dockermem.core.snapshot import ResourceSnapshot, take_snapshot
from dockermem.core.thresholds import ThresholdLevel, Thresholds
from dockermem.core.watch import WatchFrame
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ReplicaContainer
from dockermem.errors import ConfigError, DockermemError
from dockermem.units import format_bytes

# `SERVICE=N` or `SERVICE=MIN..MAX`; the service name as compose allows it.
SCALE_PATTERN = re.compile(r"^([a-zA-Z0-9][a-zA-Z0-9._-]*)=(\d+)(?:\.\.(\d+))?$")
# A replica shed under memory pressure gets this long to stop before it is killed.
SCALE_DOWN_STOP_SECONDS = 2
SCALE_UP_WAIT_SECONDS = 120.0
# Replicas made within this long of each other were made by one compose call.
SAME_BATCH_SECONDS = 1.0


# ---------------------------------------------------------------------------------------
# --scale SERVICE=MIN..MAX


@dataclass(frozen=True)
class ScaleRange:
    """The replica counts the user allows for one service (`text` as given, for messages)."""

    service: str
    minimum: int
    maximum: int
    text: str = ""

    @property
    def fixed(self) -> bool:
        return self.minimum == self.maximum


def parse_scale(text: str) -> ScaleRange:
    """`SERVICE=N` or `SERVICE=MIN..MAX`; a ValueError that names the value otherwise."""
    match = SCALE_PATTERN.match(text.strip())
    if match is None:
        if re.search(r"=\s*-|\.\.\s*-", text):
            raise ValueError(f"--scale {text!r}: a replica count cannot be negative")
        raise ValueError(f"--scale {text!r}: expected SERVICE=N or SERVICE=MIN..MAX (whole numbers)")
    service, low, high = match.groups()
    minimum, maximum = int(low), int(high if high is not None else low)
    if minimum > maximum:
        raise ValueError(f"--scale {text!r}: MIN {minimum} is above MAX {maximum}")
    return ScaleRange(service, minimum, maximum, text.strip())


def check_unique(ranges: Sequence[ScaleRange]) -> None:
    """One range per service."""
    seen: set[str] = set()
    for scale in ranges:
        if scale.service in seen:
            raise ValueError(f"--scale {scale.text!r}: {scale.service} is given more than once")
        seen.add(scale.service)


@dataclass(frozen=True)
class ReplicaChoice:
    """How many replicas of one service were chosen, and the figures behind the choice."""

    service: str
    minimum: int
    maximum: int
    replicas: int
    per_replica_bytes: int
    counted_from: str  # "limit", "recorded peak" or "default"
    next_need_bytes: int | None  # what the stack would need with one replica more (None at MAX)


@dataclass(frozen=True)
class ScalePlan:
    """The replica counts chosen against the budget, with the rest of the stack beside them."""

    budget_bytes: int
    fixed_bytes: int  # the services that are not scaled
    choices: tuple[ReplicaChoice, ...]

    @property
    def required_bytes(self) -> int:
        return self.fixed_bytes + sum(c.replicas * c.per_replica_bytes for c in self.choices)

    @property
    def ok(self) -> bool:
        return self.required_bytes <= self.budget_bytes

    @property
    def replicas(self) -> dict[str, int]:
        return {choice.service: choice.replicas for choice in self.choices}


@dataclass(frozen=True)
class ScaledService:
    """What choosing needs to know of one scaled service."""

    scale: ScaleRange
    per_replica_bytes: int
    counted_from: str = "limit"


def choose_replicas(budget_bytes: int, fixed_bytes: int, services: Sequence[ScaledService]) -> ScalePlan:
    """The largest replica counts within the ranges whose memory fits the budget beside the
    fixed part of the stack. Every service starts at its MIN (a plan that does not fit even
    then is returned as it is: not ok); replicas are then added one service at a time, in
    turn, while the next one fits, so that two scaled services share what is left."""
    counts = [service.scale.minimum for service in services]
    total = fixed_bytes + sum(c * s.per_replica_bytes for c, s in zip(counts, services, strict=True))
    if total <= budget_bytes:
        growing = True
        while growing:
            growing = False
            for index, service in enumerate(services):
                if (
                    counts[index] < service.scale.maximum
                    and total + service.per_replica_bytes <= budget_bytes
                ):
                    counts[index] += 1
                    total += service.per_replica_bytes
                    growing = True
    choices = tuple(
        ReplicaChoice(
            service=service.scale.service,
            minimum=service.scale.minimum,
            maximum=service.scale.maximum,
            replicas=count,
            per_replica_bytes=service.per_replica_bytes,
            counted_from=service.counted_from,
            next_need_bytes=None if count >= service.scale.maximum else total + service.per_replica_bytes,
        )
        for count, service in zip(counts, services, strict=True)
    )
    return ScalePlan(budget_bytes, fixed_bytes, choices)


@dataclass(frozen=True)
class ScaleFit:
    """The preflight at the chosen replica counts (at MIN when not even MIN fits) and the plan."""

    preflight: PreflightResult
    plan: ScalePlan


async def plan_scale(
    client: DockerClient,
    settings: Settings,
    files: Sequence[Path],
    project: str | None,
    ranges: Sequence[ScaleRange],
) -> ScaleFit:
    """Run the preflight with each scaled service at its MIN, then choose the replica counts
    within the budget it measured. An unknown service is bad usage (ConfigError, exit 2)."""
    at_minimum = await run_preflight(
        client, settings, files, project, None, replicas={r.service: r.minimum for r in ranges}
    )
    plan = plan_from_preflight(at_minimum, ranges)
    if not plan.ok:
        return ScaleFit(at_minimum, plan)
    return ScaleFit(with_replicas(settings, at_minimum, plan.replicas), plan)


def plan_from_preflight(preflight: PreflightResult, ranges: Sequence[ScaleRange]) -> ScalePlan:
    """The choice, from the figures of a preflight (each service at its counted figure)."""
    needs = {service.name: service for service in preflight.services}
    for scale in ranges:
        if scale.service not in needs:
            known = ", ".join(sorted(needs)) or "none"
            raise ConfigError(
                f"--scale {scale.text!r}: no service {scale.service!r} in the stack (services: {known})"
            )
    scaled = {scale.service for scale in ranges}
    fixed = sum(service.counted_bytes for service in preflight.services if service.name not in scaled)
    services = [
        ScaledService(scale, needs[scale.service].counted_bytes, needs[scale.service].counted_from)
        for scale in ranges
    ]
    return choose_replicas(preflight.available_bytes, fixed, services)


# ---------------------------------------------------------------------------------------
# fit --per-worker SIZE


@dataclass(frozen=True)
class WorkerFit:
    """How many workers of a given size fit in the budget beside the stack."""

    per_worker_bytes: int
    budget_bytes: int
    stack_bytes: int

    @property
    def available_bytes(self) -> int:
        return max(0, self.budget_bytes - self.stack_bytes)

    @property
    def workers(self) -> int:
        return self.available_bytes // self.per_worker_bytes


async def fit_workers(
    client: DockerClient,
    settings: Settings,
    files: Sequence[Path],
    project: str | None,
    per_worker_bytes: int,
) -> WorkerFit:
    """(preflight budget − the stack's need) // the size of one worker.

    When the stack already runs, each service counts once per replica it has, and what the
    stack uses now is added back to the free memory the budget is measured from (it is the
    stack's own, and already counted in the need)."""
    if per_worker_bytes <= 0:
        raise ConfigError(f"--per-worker {per_worker_bytes}: a worker must need more than 0 bytes")
    preflight = await run_preflight(client, settings, files, project)
    compose_project = project or preflight.project
    running = [c for c in await client.container.ls(project=compose_project) if c.state == "running"]
    if not running:
        return WorkerFit(per_worker_bytes, preflight.available_bytes, preflight.required_bytes)
    replicas: dict[str, int] = {}
    for container in running:
        if container.service:
            replicas[container.service] = replicas.get(container.service, 0) + 1
    scaled = with_replicas(settings, preflight, replicas)
    usage = (await take_snapshot(client, settings, compose_project)).containers_memory_bytes
    return WorkerFit(per_worker_bytes, runtime_budget(preflight.budget, usage), scaled.required_bytes)


# ---------------------------------------------------------------------------------------
# --autoscale


@dataclass(frozen=True)
class AutoscalePolicy:
    """When to change: down at CRITICAL, up after `calm_seconds` at SAFE (the band between is
    the hysteresis), and never two changes of a service within `min_interval_seconds`."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    calm_seconds: float = 30.0
    min_interval_seconds: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> AutoscalePolicy:
        return cls(
            Thresholds.from_settings(settings),
            settings.autoscale_calm_seconds,
            settings.autoscale_min_interval_seconds,
        )


class Direction(Enum):
    DOWN = "down"
    UP = "up"


@dataclass(frozen=True)
class Pressure:
    """The level that counts for one service, and what sets it."""

    level: ThresholdLevel
    cause: str


@dataclass(frozen=True)
class Proposal:
    """A change the policy asks for (an UP still has to pass the budget)."""

    direction: Direction
    to: int
    reason: str


@dataclass
class ServiceScaling:
    """The autoscaler's memory of one service."""

    scale: ScaleRange
    per_replica_bytes: int
    replicas: int
    last_change: float = -math.inf
    safe_since: float | None = None

    @property
    def service(self) -> str:
        return self.scale.service


def propose(
    state: ServiceScaling, pressure: Pressure, now: float, policy: AutoscalePolicy
) -> Proposal | None:
    """Down by one at CRITICAL or above; up by one once the service has been SAFE for the calm
    period; nothing at WARNING (it also restarts the calm period), within the minimum interval
    of the last change, or at the range's ends. Updates the calm-period clock."""
    if pressure.level is not ThresholdLevel.SAFE:
        state.safe_since = None
    elif state.safe_since is None:
        state.safe_since = now
    if now - state.last_change < policy.min_interval_seconds:
        return None
    if pressure.level >= ThresholdLevel.CRITICAL:
        if state.replicas > state.scale.minimum:
            return Proposal(
                Direction.DOWN, state.replicas - 1, f"{pressure.level.value.upper()}: {pressure.cause}"
            )
        return None
    if (
        state.safe_since is not None
        and now - state.safe_since >= policy.calm_seconds
        and state.replicas < state.scale.maximum
    ):
        return Proposal(Direction.UP, state.replicas + 1, f"SAFE for {now - state.safe_since:.0f}s")
    return None


def changed(state: ServiceScaling, to: int, now: float) -> None:
    """After a change (or a failed attempt): the interval and the calm period start again."""
    state.replicas = to
    state.last_change = now
    state.safe_since = None


@dataclass(frozen=True)
class ContainerLoad:
    """One running container of the stack, as the autoscaler sees it."""

    name: str
    service: str | None
    memory_usage_bytes: int
    memory_percent: float | None
    level: ThresholdLevel


@dataclass(frozen=True)
class StackLoad:
    """The stack's containers and the host/engine level at one moment."""

    host_level: ThresholdLevel
    host_percent: float
    engine_level: ThresholdLevel
    engine_percent: float
    containers: tuple[ContainerLoad, ...]

    @property
    def usage_bytes(self) -> int:
        return sum(container.memory_usage_bytes for container in self.containers)


def service_pressure(load: StackLoad, service: str) -> Pressure:
    """The worst of the host's level, the engine's, and the service's own containers'."""
    candidates = [
        Pressure(load.host_level, f"host memory at {load.host_percent:.1f}%"),
        Pressure(load.engine_level, f"engine memory at {load.engine_percent:.1f}% in containers"),
    ]
    for container in load.containers:
        if container.service == service:
            what = "of its limit" if container.memory_percent is not None else "(no limit)"
            percent = "" if container.memory_percent is None else f"{container.memory_percent:.1f}% "
            candidates.append(
                Pressure(container.level, f"{container.name} at {percent}{what}".replace("  ", " "))
            )
    return max(candidates, key=lambda pressure: pressure.level.rank)


def newest_replica(replicas: Sequence[ReplicaContainer]) -> ReplicaContainer | None:
    """The replica made last, which is the first to go. Compose makes the replicas of one `up`
    side by side, in no set order, so those made within a second of the newest count as one
    batch, and of a batch the highest-numbered goes first (as compose's own scale-down does)."""
    if not replicas:
        return None
    latest = max(_created_seconds(r) for r in replicas)
    batch = [r for r in replicas if latest - _created_seconds(r) < SAME_BATCH_SECONDS]
    return max(batch, key=lambda r: (r.number or 0, r.created))


def _created_seconds(replica: ReplicaContainer) -> float:
    try:
        return datetime.fromisoformat(replica.created[:26] + "+00:00").timestamp()
    except ValueError:
        return 0.0


def runtime_budget(budget: MemoryBudget, stack_usage_bytes: int) -> int:
    """The preflight's budget measured while the stack runs: what the stack itself uses now
    is added back to the host's (and a VM engine's) free memory, as if it were not running."""
    in_use = budget.engine_in_use_bytes
    return replace(
        budget,
        host_available_bytes=budget.host_available_bytes + stack_usage_bytes,
        engine_in_use_bytes=None if in_use is None else max(0, in_use - stack_usage_bytes),
    ).available_bytes


@dataclass(frozen=True)
class ScaleEvent:
    """One change of a service's replica count."""

    at: datetime
    service: str
    from_replicas: int
    to_replicas: int
    reason: str
    removed: str | None = None  # the container shed, when going down


@dataclass
class Autoscaler:
    """Carries out the policy for the scaled services of one compose project."""

    client: DockerClient
    settings: Settings
    files: tuple[Path, ...]
    project: str | None  # as given to compose (-p); None: compose takes it from the file
    compose_project: str
    fixed_bytes: int
    services: list[ServiceScaling]
    on_scaled: Callable[[ScaleEvent], None]
    on_error: Callable[[str], None] = lambda message: None
    policy: AutoscalePolicy = field(default_factory=AutoscalePolicy)
    events: list[ScaleEvent] = field(default_factory=list)
    _latest: StackLoad | None = None
    _wake: anyio.Event | None = None

    def offer(self, load: StackLoad) -> None:
        """A new reading, for `run` (used where the readings come from another task: watch)."""
        self._latest = load
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Act on the latest offered reading, one at a time, until cancelled."""
        while True:
            self._wake = anyio.Event()
            if self._latest is None:
                await self._wake.wait()
            load, self._latest = self._latest, None
            if load is not None:
                await self.step(load)

    async def step(self, load: StackLoad) -> None:
        """Judge each scaled service against one reading; change at most one replica of each."""
        for state in self.services:
            now = anyio.current_time()
            proposal = propose(state, service_pressure(load, state.service), now, self.policy)
            if proposal is None:
                continue
            if proposal.direction is Direction.UP:
                need = self.required_bytes() + state.per_replica_bytes
                try:
                    budget = runtime_budget(
                        await measure_budget(self.client, self.settings, await self.client.system.info()),
                        load.usage_bytes,
                    )
                except DockermemError as error:
                    self.on_error(f"autoscale: budget not measured: {error}")
                    continue
                if need > budget:
                    continue  # the calm period holds; the budget is asked again next time
                reason = f"{proposal.reason}; {format_bytes(need)} needed of {format_bytes(budget)} budget"
                proposal = replace(proposal, reason=reason)
            await self._apply(state, proposal, now)

    def required_bytes(self) -> int:
        """What the stack counts for at the current replica counts."""
        return self.fixed_bytes + sum(s.replicas * s.per_replica_bytes for s in self.services)

    async def _apply(self, state: ServiceScaling, proposal: Proposal, now: float) -> None:
        before = state.replicas
        removed: str | None = None
        try:
            if proposal.direction is Direction.DOWN:
                removed = await self._shed_newest(state, proposal.to)
            else:
                await self._compose_scale(state.service, proposal.to)
        except DockermemError as error:
            changed(state, before, now)  # no retry before the interval has passed
            self.on_error(f"autoscale: scaling {state.service} to {proposal.to} failed: {error}")
            return
        changed(state, proposal.to, anyio.current_time())
        event = ScaleEvent(datetime.now(UTC), state.service, before, proposal.to, proposal.reason, removed)
        self.events.append(event)
        self.on_scaled(event)

    async def _shed_newest(self, state: ServiceScaling, to: int) -> str | None:
        """Remove the newest replica. Compose's own scale-down removes the highest-numbered
        one, which is the newest unless a replica was recreated since; then it is removed
        here, by id."""
        replicas = await self.client.container.replicas(self.compose_project, state.service)
        newest = newest_replica(replicas)
        highest = max(replicas, key=lambda r: r.number or 0, default=None)
        if newest is None or highest is None:
            return None
        if newest.id == highest.id:
            await self._compose_scale(state.service, to)
        else:
            await self.client.container.stop([newest.id], SCALE_DOWN_STOP_SECONDS)
            removal = await self.client.container.remove([newest.id])
            if not removal.removed:
                raise DockermemError("; ".join(removal.refused) or f"docker rm did not remove {newest.name}")
        return newest.name

    async def _compose_scale(self, service: str, replicas: int) -> None:
        await self.client.compose.scale(
            self.files, self.project, service, replicas, SCALE_UP_WAIT_SECONDS, SCALE_DOWN_STOP_SECONDS
        )


def scaling_states(plan: ScalePlan, ranges: Sequence[ScaleRange]) -> list[ServiceScaling]:
    """The autoscaler's starting point: each scaled service at its chosen count."""
    chosen = {choice.service: choice for choice in plan.choices}
    return [
        ServiceScaling(scale, chosen[scale.service].per_replica_bytes, chosen[scale.service].replicas)
        for scale in ranges
        if scale.service in chosen
    ]


async def running_plan(
    client: DockerClient,
    settings: Settings,
    files: Sequence[Path],
    project: str | None,
    ranges: Sequence[ScaleRange],
) -> tuple[str, ScalePlan]:
    """For a stack that already runs (`watch --autoscale`): the project, and each scaled
    service's figures with its current replica count in place of a choice."""
    preflight = await run_preflight(client, settings, files, project)
    plan = plan_from_preflight(preflight, ranges)
    compose_project = project or preflight.project
    current: dict[str, int] = {}
    for scale in ranges:
        replicas = await client.container.replicas(compose_project, scale.service)
        current[scale.service] = sum(1 for r in replicas if r.status == "running")
    choices = tuple(replace(c, replicas=current[c.service], next_need_bytes=None) for c in plan.choices)
    return compose_project, replace(plan, choices=choices)


def load_from_levels(
    containers: Sequence[ContainerLoad],
    host_percent: float,
    engine_percent: float,
    thresholds: Thresholds,
) -> StackLoad:
    """A StackLoad from containers and the host's and engine's percentages."""
    return StackLoad(
        host_level=thresholds.level_for(host_percent),
        host_percent=host_percent,
        engine_level=thresholds.level_for(engine_percent),
        engine_percent=engine_percent,
        containers=tuple(containers),
    )


def load_from_snapshot(snapshot: ResourceSnapshot, thresholds: Thresholds) -> StackLoad:
    """What `up`'s monitor sampled, for the autoscaler."""
    engine_percent = 100.0 * snapshot.containers_memory_bytes / snapshot.engine.memory_total_bytes
    containers = [
        ContainerLoad(c.name, c.service, c.memory_usage_bytes, c.memory_percent, c.level)
        for c in snapshot.containers
    ]
    return load_from_levels(containers, snapshot.host.memory_percent, engine_percent, thresholds)


def load_from_frame(frame: WatchFrame, project: str, thresholds: Thresholds) -> StackLoad:
    """What a watch tick saw of one project (on the engine named `default`, or the first)."""
    engine = next(
        (e for e in frame.engines if e.name == "default"), frame.engines[0] if frame.engines else None
    )
    rows = [row for row in frame.containers if engine is None or row.engine == engine.name]
    total = (engine.memory_total_bytes if engine else None) or frame.host.memory_total_bytes
    engine_percent = 100.0 * sum(row.memory_usage_bytes for row in rows) / total
    containers = [
        ContainerLoad(row.name, row.service, row.memory_usage_bytes, row.memory_percent, row.level)
        for row in rows
        if row.project == project
    ]
    return load_from_levels(containers, frame.host.memory_percent, engine_percent, thresholds)


def replica_counts(services: Sequence[ServiceScaling]) -> Mapping[str, int]:
    return {state.service: state.replicas for state in services}


@dataclass
class WatchAutoscale:
    """`watch --autoscale`: takes each watch frame (`offer`, the watcher's hook) and acts in
    its own task (`run`, a watcher background task), so that a compose call never holds up
    a tick. Reads the stack's figures and current replica counts when it starts."""

    client: DockerClient
    settings: Settings
    files: tuple[Path, ...]
    project: str | None
    ranges: tuple[ScaleRange, ...]
    on_scaled: Callable[[ScaleEvent], None]
    on_error: Callable[[str], None]
    autoscaler: Autoscaler | None = None
    _thresholds: Thresholds = field(default_factory=Thresholds)

    def offer(self, frame: WatchFrame) -> None:
        if self.autoscaler is not None:
            self.autoscaler.offer(load_from_frame(frame, self.autoscaler.compose_project, self._thresholds))

    async def run(self) -> None:
        compose_project, plan = await running_plan(
            self.client, self.settings, self.files, self.project, self.ranges
        )
        self._thresholds = Thresholds.from_settings(self.settings)
        self.autoscaler = Autoscaler(
            client=self.client,
            settings=self.settings,
            files=self.files,
            project=self.project,
            compose_project=compose_project,
            fixed_bytes=plan.fixed_bytes,
            services=scaling_states(plan, self.ranges),
            on_scaled=self.on_scaled,
            on_error=self.on_error,
            policy=AutoscalePolicy.from_settings(self.settings),
        )
        await self.autoscaler.run()
