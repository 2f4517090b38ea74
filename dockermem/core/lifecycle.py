"""`up`: preflight, then `docker compose up --wait` with the memory monitor beside it, then
either the final memory report or an analysis of why the start failed."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from dockermem.config import Settings
from dockermem.core.concurrency import Slot, cancel_on_signals
from dockermem.core.monitor import MonitorUpdate, StartupMonitor, UpdateKind
from dockermem.core.oom import OomKill, attribute_ooms
from dockermem.core.preflight import PreflightResult, run_preflight
from dockermem.core.readiness import ReadyWatch, wait_plan
from dockermem.core.snapshot import ContainerMemory, ResourceSnapshot, take_snapshot
from dockermem.core.thresholds import ThresholdLevel, Thresholds
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ComposeProjectConfig, ComposeRun, ContainerEvent, ContainerState
from dockermem.errors import DockerUnavailableError
from dockermem.units import format_bytes, format_percent

if TYPE_CHECKING:
    # Scaling is imported where `--scale` is used: it brings the watcher's modules with it,
    # which an `up` without --scale would load for nothing before compose starts.
    from dockermem.core.scaling import ScaleEvent, ScalePlan, ScaleRange

ONE_SHOT_NOTE = (
    "{service} exited with code 0: `docker compose up --wait` counts a one-shot service that "
    "exits, even successfully, as a failure unless another service depends on it with "
    "`condition: service_completed_successfully` (docker/compose#10596)."
)


@dataclass(frozen=True)
class StartRequest:
    """What the user asked `up` to do."""

    files: tuple[Path, ...]
    project: str | None
    services: tuple[str, ...] = ()
    wait_timeout_seconds: float = 120.0
    preflight: bool = True
    profile: str | None = None
    down_on_failure: bool = False
    compose_options: tuple[str, ...] = ()
    # `--scale SERVICE=MIN..MAX`: the replica counts are chosen against the preflight's budget.
    scale: tuple[ScaleRange, ...] = ()
    handle_signals: bool = True  # the CLI stops on Ctrl-C/SIGTERM; an embedding program decides itself


@dataclass(frozen=True)
class ServiceOutcome:
    """How one service's container ended up, and its memory then."""

    service: str
    container: str
    container_id: str
    state: str
    health: str | None
    last_health_output: str | None
    exit_code: int | None
    memory: ContainerMemory | None
    peak_bytes: int | None

    @property
    def healthy(self) -> bool:
        return self.state == "running" and self.health in (None, "", "healthy")


@dataclass(frozen=True)
class StartOutcome:
    """The result of `up`: a started stack with its report, or a failure with its analysis."""

    project: str
    ok: bool
    preflight: PreflightResult | None
    compose_returncode: int | None
    compose_message: str
    services: tuple[ServiceOutcome, ...] = ()
    ooms: tuple[OomKill, ...] = ()
    snapshot: ResourceSnapshot | None = None
    memory_verdict: str = ""
    notes: tuple[str, ...] = ()
    interrupted_by: int | None = None
    brought_down: bool = False
    elapsed_seconds: float = 0.0
    engine_error: str | None = None  # the engine stopped answering before the analysis
    scale_plan: ScalePlan | None = None  # the replica counts chosen for `--scale`
    ready_by_events: bool = False  # the engine's events showed it ready before compose's next look

    @property
    def replicas(self) -> dict[str, int]:
        """The replica count given to compose for each scaled service."""
        return {} if self.scale_plan is None else self.scale_plan.replicas

    @property
    def failed_services(self) -> tuple[ServiceOutcome, ...]:
        return tuple(service for service in self.services if not service.healthy)


@dataclass
class _Interruption:
    signal_number: int | None = None
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)

    def record(self, signal_number: int) -> None:
        self.signal_number = signal_number


async def start_stack(
    client: DockerClient,
    settings: Settings,
    request: StartRequest,
    on_update: Callable[[MonitorUpdate], None],
) -> StartOutcome:
    """Preflight, start with the monitor beside compose, then report or analyse."""
    preflight: PreflightResult | None = None
    scale_plan: ScalePlan | None = None
    config: ComposeProjectConfig | None = None
    if request.preflight:
        if request.scale:
            from dockermem.core.scaling import plan_scale

            fit = await plan_scale(client, settings, request.files, request.project, request.scale)
            preflight, scale_plan = fit.preflight, fit.plan
        else:
            preflight = await run_preflight(client, settings, request.files, request.project, request.profile)
        if not preflight.ok:
            return StartOutcome(
                preflight.project,
                False,
                preflight,
                None,
                "preflight failed: the stack was not started",
                scale_plan=scale_plan,
            )
        project, config = preflight.project, preflight.config
        replicas = {} if scale_plan is None else scale_plan.replicas
    else:
        config = await client.compose.config(request.files, request.project)
        project = config.name
        # Without the preflight there is no budget to choose by: only fixed counts (SERVICE=N).
        replicas = {scale.service: scale.maximum for scale in request.scale}
    compose_options = request.compose_options + tuple(
        item for service, count in replicas.items() for item in ("--scale", f"{service}={count}")
    )
    # Compose takes the name from the file unless -p is given; follow the same one.
    compose_project = request.project or project

    async def project_states() -> list[ContainerState]:
        containers = await client.container.ls(project=compose_project)
        return await client.container.inspect([c.id for c in containers])

    started_at = datetime.now(UTC)
    clock_start = anyio.current_time()
    plan = None
    if config is not None and settings.ready_on_events:
        plan = wait_plan(config, request.services, replicas)
    ready_watch = None if plan is None else ReadyWatch(plan, project_states)
    monitor = StartupMonitor(client, settings, compose_project, on_update)
    if ready_watch is not None:
        monitor.on_event = ready_watch.on_event
    interruption = _Interruption()
    ready_scope = anyio.CancelScope()  # cancelled when the events show the stack ready
    result: ComposeRun | None = None

    async def end_wait_when_ready(watch: ReadyWatch) -> None:
        if await watch.wait_until_ready():
            ready_scope.cancel()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(monitor.run, started_at)
        if ready_watch is not None:
            tasks.start_soon(end_wait_when_ready, ready_watch)
        # Ctrl-C or SIGTERM stops compose (it gets SIGINT and time to stop); then the report.
        if request.handle_signals:
            tasks.start_soon(cancel_on_signals, interruption.scope, interruption.record)
        with interruption.scope, ready_scope:
            result = await client.compose.up(
                request.files,
                request.project,
                request.services,
                request.wait_timeout_seconds,
                compose_options,
            )
        tasks.cancel_scope.cancel()
    ended_at = datetime.now(UTC)
    elapsed = anyio.current_time() - clock_start
    # Ready by the events: compose's wait was ended (SIGINT) before its next look.
    ready_by_events = ready_scope.cancelled_caught and interruption.signal_number is None

    # What happened, read side by side: the events of the span, the containers' states, memory.
    events_slot: Slot[list[ContainerEvent]] = Slot()
    states_slot: Slot[list[ContainerState]] = Slot()
    snapshot_slot: Slot[ResourceSnapshot] = Slot()

    async def final_states() -> list[ContainerState]:
        if ready_by_events and ready_watch is not None:
            return list(ready_watch.confirmed)  # the inspection that found it ready, a moment ago
        return await project_states()

    compose_ok = ready_by_events or (result is not None and result.returncode == 0)
    message = "" if result is None else result.message
    engine_error: str | None = None
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(
                events_slot.fill,
                lambda: client.events.between(started_at, ended_at, project=compose_project),
            )
            tasks.start_soon(states_slot.fill, final_states)
            tasks.start_soon(snapshot_slot.fill, lambda: take_snapshot(client, settings, compose_project))
    except* DockerUnavailableError as lost:
        engine_error = str(lost.exceptions[0])
    if engine_error is not None:
        # The engine went away: report what is known (compose's word, the last sample).
        return StartOutcome(
            project=compose_project,
            ok=False,
            preflight=preflight,
            compose_returncode=None if result is None else result.returncode,
            compose_message=message,
            snapshot=monitor.last_snapshot,
            interrupted_by=interruption.signal_number,
            elapsed_seconds=elapsed,
            engine_error=engine_error,
            scale_plan=scale_plan,
        )
    states, snapshot = states_slot.value, snapshot_slot.value
    ooms = attribute_ooms(events_slot.value, states, monitor.last_samples)
    services = _service_outcomes(states, snapshot, monitor.peaks)
    ok = compose_ok and not ooms and interruption.signal_number is None
    notes = _notes(services, compose_ok)
    brought_down = False
    if not ok and request.down_on_failure and interruption.signal_number is None:
        await client.compose.down(request.files, request.project)
        brought_down = True
    return StartOutcome(
        project=compose_project,
        ok=ok,
        preflight=preflight,
        compose_returncode=None if result is None else result.returncode,
        compose_message=message,
        services=services,
        ooms=tuple(ooms),
        snapshot=snapshot,
        memory_verdict="" if ok else memory_verdict(ooms, services, snapshot),
        notes=notes,
        interrupted_by=interruption.signal_number,
        brought_down=brought_down,
        elapsed_seconds=elapsed,
        scale_plan=scale_plan,
        ready_by_events=ready_by_events,
    )


@dataclass(frozen=True)
class AutoscaleOutcome:
    """How `up --autoscale` ended: the changes it made, the counts it left, and why it stopped."""

    events: tuple[ScaleEvent, ...]
    replicas: dict[str, int]
    interrupted_by: int | None
    elapsed_seconds: float


async def keep_scaling(
    client: DockerClient,
    settings: Settings,
    request: StartRequest,
    started: StartOutcome,
    on_update: Callable[[MonitorUpdate], None],
    on_scaled: Callable[[ScaleEvent], None],
    duration_seconds: float | None = None,
) -> AutoscaleOutcome:
    """After a successful `up --scale`: keep the monitor running and scale each service down
    at CRITICAL and back up after a calm period at SAFE, until Ctrl-C, SIGTERM or the duration."""
    from dockermem.core.scaling import (
        AutoscalePolicy,
        Autoscaler,
        load_from_snapshot,
        replica_counts,
        scaling_states,
    )

    plan = started.scale_plan
    if plan is None or not started.ok:
        raise ValueError("keep_scaling needs a stack started with --scale")
    autoscaler = Autoscaler(
        client=client,
        settings=settings,
        files=request.files,
        project=request.project,
        compose_project=started.project,
        fixed_bytes=plan.fixed_bytes,
        services=scaling_states(plan, request.scale),
        on_scaled=on_scaled,
        on_error=lambda message: on_update(MonitorUpdate(datetime.now(UTC), UpdateKind.ERROR, message)),
        policy=AutoscalePolicy.from_settings(settings),
    )
    thresholds = Thresholds.from_settings(settings)

    async def judge(snapshot: ResourceSnapshot) -> None:
        await autoscaler.step(load_from_snapshot(snapshot, thresholds))

    monitor = StartupMonitor(client, settings, started.project, on_update, after_sample=judge)
    interruption = _Interruption()
    clock_start = anyio.current_time()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(cancel_on_signals, interruption.scope, interruption.record)
        with (
            interruption.scope,
            anyio.move_on_after(math.inf if duration_seconds is None else duration_seconds),
        ):
            await monitor.run(datetime.now(UTC))
        tasks.cancel_scope.cancel()
    return AutoscaleOutcome(
        events=tuple(autoscaler.events),
        replicas=dict(replica_counts(autoscaler.services)),
        interrupted_by=interruption.signal_number,
        elapsed_seconds=anyio.current_time() - clock_start,
    )


def _service_outcomes(
    states: Sequence[ContainerState], snapshot: ResourceSnapshot, peaks: dict[str, int]
) -> tuple[ServiceOutcome, ...]:
    memory_by_id = {container.id: container for container in snapshot.containers}
    return tuple(
        ServiceOutcome(
            service=state.service or state.name,
            container=state.name,
            container_id=state.id,
            state=state.status,
            health=state.health_status,
            last_health_output=state.last_health_output,
            exit_code=None if state.running else state.exit_code,
            memory=memory_by_id.get(state.id),
            peak_bytes=peaks.get(state.id),
        )
        for state in sorted(states, key=lambda s: (s.service or "", s.name))
    )


def _notes(services: Sequence[ServiceOutcome], compose_ok: bool) -> tuple[str, ...]:
    if compose_ok:
        return ()
    return tuple(
        ONE_SHOT_NOTE.format(service=service.service)
        for service in services
        if service.state == "exited" and service.exit_code == 0
    )


def memory_verdict(
    ooms: Sequence[OomKill], services: Sequence[ServiceOutcome], snapshot: ResourceSnapshot
) -> str:
    """Whether memory caused the failure, and which container."""
    if ooms:
        return "Memory was the cause: " + "; ".join(kill.describe() for kill in ooms) + "."
    pressed = [
        service
        for service in services
        if not service.healthy
        and service.memory is not None
        and service.memory.level >= ThresholdLevel.EMERGENCY
    ]
    if pressed:
        return (
            "Memory is the likely cause: "
            + "; ".join(
                f"{s.service} at {format_percent(s.memory.memory_percent if s.memory else None)} of its limit"
                for s in pressed
            )
            + "."
        )
    if snapshot.host_memory_level >= ThresholdLevel.EMERGENCY:
        return (
            f"Memory is the likely cause: the host is at {snapshot.host.memory_percent:.1f}% "
            f"({format_bytes(snapshot.host.memory_available_bytes)} available)."
        )
    return (
        "Memory does not look like the cause: no OOM kill was seen, and neither the failing "
        "services nor the host were near their limits."
    )
