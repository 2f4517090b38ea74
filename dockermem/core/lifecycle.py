"""Starting a stack (`up`, `dockermem.stack()`, the pytest plugin): the preflight, then
`docker compose up --wait` beside a running monitoring session, then either the final memory
report or an analysis of why the start failed (which services, their health checks, their
memory, OOM kills, and whether memory was the cause)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import anyio

from dockermem.background import tasks_beside, unwrapped_errors
from dockermem.clock import Clock
from dockermem.config import Settings
from dockermem.core.autoscale import Autoscaler
from dockermem.core.concurrency import Slot, Stop
from dockermem.core.emergency import EmergencyCleanup
from dockermem.core.events import Event, EventType, SessionSummary
from dockermem.core.oom import OomKill, OomKind
from dockermem.core.preflight import PreflightResult, run_preflight
from dockermem.core.readiness import ReadyWatch, wait_plan
from dockermem.core.scaling import ScalePlan, ScaleRange, plan_scale
from dockermem.core.session import Observer, Session, Verdict
from dockermem.core.snapshot import ContainerMemory, ResourceSnapshot, take_snapshot
from dockermem.core.thresholds import ThresholdLevel
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ComposeProjectConfig, ComposeRun, ContainerState, EngineInfo
from dockermem.errors import DockerUnavailableError
from dockermem.units import format_bytes, format_percent, name_order

HEALTH_NEVER_RAN_NOTE = (
    "{service}'s health check never ran (its health log is empty), so it stayed `starting` and "
    "compose's --wait could not succeed. "
)
# Why, by the engine: Podman's health checks need systemd; Docker's wait for their first interval.
HEALTH_NEVER_RAN_CAUSE = {
    True: "Podman runs health checks with systemd timers, and where there is no systemd (a container, "
    "many CI runners) they never run: run the check yourself (`podman healthcheck run`), or drop "
    "`--wait` for this service.",
    False: "Docker runs the first check one `interval` (plus `start_period`) after the start: one "
    "longer than --wait-timeout never runs in time.",
}
ONE_SHOT_NOTE = (
    "{service} exited with code 0: `docker compose up --wait` counts a one-shot service that "
    "exits, even successfully, as a failure unless another service depends on it with "
    "`condition: service_completed_successfully` (docker/compose#10596)."
)
CRASHED_NOTE = (
    "{service} exited with code {code} just after the stack was found started (compose's rule "
    "for --wait had passed it): a service that stops with an error during `up` fails the start."
)


@dataclass(frozen=True)
class StartRequest:
    """What the user asked `up` to do."""

    files: tuple[Path, ...]
    project: str | None
    services: tuple[str, ...] = ()
    wait_timeout_seconds: float = 120.0
    preflight: bool = True
    memory_profile: str | None = None  # a named memory budget (`--memory-profile`)
    compose_profiles: tuple[str, ...] = ()  # compose's own `--profile`
    env_files: tuple[Path, ...] = ()  # compose's `--env-file`
    down_on_failure: bool = False
    compose_options: tuple[str, ...] = ()
    # `--scale SERVICE=MIN..MAX`: the replica counts are chosen against the preflight's budget.
    scale: tuple[ScaleRange, ...] = ()


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
    health_checks_run: int = 0

    @property
    def healthy(self) -> bool:
        return self.state == "running" and self.health in (None, "", "healthy")


@dataclass(frozen=True)
class StartOutcome:
    """The result of a start: a started stack with its report, or a failure with its analysis."""

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

    @property
    def preflight_failed(self) -> bool:
        return self.preflight is not None and not self.preflight.ok

    @property
    def verdict(self) -> Verdict:
        if self.interrupted_by is not None:
            return Verdict.INTERRUPTED
        if self.engine_error is not None:
            return Verdict.ENGINE_LOST
        return Verdict.OK if self.ok else Verdict.FAILED


@dataclass(frozen=True)
class StartPlan:
    """What is settled before compose starts: the project, the preflight and the replica counts."""

    project: str  # the compose project's name
    preflight: PreflightResult | None
    scale_plan: ScalePlan | None
    config: ComposeProjectConfig | None
    replicas: dict[str, int]

    def failed(self) -> StartOutcome | None:
        """The outcome of a start the preflight stopped (None when it may go ahead)."""
        if self.preflight is None or self.preflight.ok:
            return None
        message = "preflight failed: the stack was not started"
        return StartOutcome(self.project, False, self.preflight, None, message, scale_plan=self.scale_plan)


async def plan_start(client: DockerClient, settings: Settings, request: StartRequest) -> StartPlan:
    """The preflight (with the replica counts of `--scale`), or without it compose's config: of
    the services named and what they depend on, as compose starts them (all without a name)."""
    if not request.preflight:
        config = await client.compose.config(request.files, request.project, request.compose_profiles,
                                             request.env_files, request.services)  # fmt: skip
        # Without the preflight there is no budget to choose by: only fixed counts (SERVICE=N).
        replicas = {scale.service: scale.maximum for scale in request.scale}
        return StartPlan(request.project or config.name, None, None, config, replicas)
    if request.scale:
        fit = await plan_scale(
            client, settings, request.files, request.project, request.scale,
            compose_profiles=request.compose_profiles, env_files=request.env_files, services=request.services,
        )  # fmt: skip
        preflight, scale_plan = fit.preflight, fit.plan
    else:
        preflight = await run_preflight(
            client, settings, request.files, request.project, request.memory_profile,
            compose_profiles=request.compose_profiles, env_files=request.env_files, services=request.services,
        )  # fmt: skip
        scale_plan = None
    replicas = {} if scale_plan is None else scale_plan.replicas
    # Compose takes the name from the file unless -p is given; follow the same one.
    return StartPlan(request.project or preflight.project, preflight, scale_plan, preflight.config, replicas)


@dataclass(frozen=True)
class StartedStack:
    """A start's outcome, and the session that watched it (None when the preflight stopped it)."""

    outcome: StartOutcome
    session: Session | None


@dataclass(frozen=True)
class UpResult:
    """What `up` did: the start, the session's summary (when one ran: not when the preflight
    stopped it), and the autoscaler (with `--autoscale`, after a good start)."""

    start: StartOutcome
    summary: SessionSummary | None
    autoscaler: Autoscaler | None
    stopped_by: int | None  # the signal that ended it, during the start or after

    @property
    def verdict(self) -> Verdict:
        if self.start.verdict is not Verdict.OK:
            return self.start.verdict
        return Verdict.INTERRUPTED if self.stopped_by is not None else Verdict.OK


async def run_up(
    client: DockerClient,
    settings: Settings,
    request: StartRequest,
    *,
    observers: Sequence[Observer] = (),
    stop: Stop | None = None,
    autoscale: bool = False,
    duration_seconds: float | None = None,
) -> UpResult:
    """Start the stack, watched; with `autoscale`, keep it scaled by memory after a good start
    until the duration has passed or a stop comes."""
    autoscaler = None
    async with started_stack(client, settings, request, observers=observers, stop=stop) as started:
        session = started.session
        if autoscale and session is not None and started.outcome.ok:
            autoscaler = Autoscaler(
                settings, request.files, request.project, request.scale, started.outcome.scale_plan
            )
            session.attach(autoscaler)
            await session.wait(duration_seconds, stop)
    summary = None if session is None else session.summary
    return UpResult(started.outcome, summary, autoscaler, None if stop is None else stop.signal_number)


@asynccontextmanager
async def started_stack(
    client: DockerClient,
    settings: Settings,
    request: StartRequest,
    *,
    observers: Sequence[Observer] = (),
    stop: Stop | None = None,
    clock: Clock | None = None,
    interval_seconds: float | None = None,
    recorded_as: str | None = None,
) -> AsyncIterator[StartedStack]:
    """Preflight, then start the stack with a session beside compose; the session keeps
    watching while the block runs, and ends with it. Besides the caller's observers, the
    emergency cleanup: at EMERGENCY it removes the project's own stale resources.

    A start the preflight refuses opens no session: the observers are told it (`started`) and
    that it ended (`finish`), as they are of any other."""
    plan = await plan_start(client, settings, request)
    refused = plan.failed()
    if refused is not None:
        for observer in observers:
            observer.started(refused)
            observer.finish(SessionSummary.empty())
        yield StartedStack(refused, None)
        return
    session = Session(
        settings, [("default", client)], project=plan.project, observers=[*observers, EmergencyCleanup()],
        clock=clock, interval_seconds=interval_seconds, recorded_as=recorded_as,
    )  # fmt: skip
    # The preflight has just asked the engine: its info comes from the cache, not a `docker info`
    # beside compose.
    async with session.running(fresh_engine_info=False):
        outcome = await start_stack(session, request, plan, stop)
        yield StartedStack(outcome, session)


async def start_stack(
    session: Session, request: StartRequest, plan: StartPlan, stop: Stop | None
) -> StartOutcome:
    """`docker compose up --wait` beside the running session, then the report or the analysis.
    A stop (Ctrl-C) stops compose, and the analysis says what state the stack was left in."""
    started = session.clock.monotonic()
    run = await _compose_up(session, request, plan, stop)
    stopped = stop is not None and stop.requested
    before_analysis = StartOutcome(
        project=plan.project,
        ok=False,
        preflight=plan.preflight,
        compose_returncode=None if run.result is None else run.result.returncode,
        compose_message="" if run.result is None else run.result.message,
        interrupted_by=None if stop is None else stop.signal_number,
        elapsed_seconds=session.clock.monotonic() - started,
        scale_plan=plan.scale_plan,
        ready_by_events=run.confirmed is not None and not stopped,
    )
    outcome = await _analyse(session, request, before_analysis, None if stopped else run.confirmed, stopped)
    session.tell_started(outcome)
    return outcome


@dataclass(frozen=True)
class _ComposeUp:
    """How compose's `up --wait` ended: its result (None when it was ended early), and the
    look that found the stack ready by the engine's events, when that ended it."""

    result: ComposeRun | None
    confirmed: list[ContainerState] | None


async def _compose_up(
    session: Session, request: StartRequest, plan: StartPlan, stop: Stop | None
) -> _ComposeUp:
    """Compose's `up --wait`; when the engine's events show every service ready, one look
    confirms it by compose's own rule and compose's wait is ended (SIGINT leaves the containers
    running) instead of waiting for compose's next look."""
    client = session.client
    options = request.compose_options + tuple(
        item for service, count in plan.replicas.items() for item in ("--scale", f"{service}={count}")
    )

    async def project_states() -> list[ContainerState]:
        containers = await client.container.ls(project=plan.project)
        return await client.container.inspect([c.id for c in containers])

    wanted = None
    if plan.config is not None and session.settings.ready_on_events:
        wanted = wait_plan(plan.config, request.services, plan.replicas)
    ready = None if wanted is None else ReadyWatch(wanted, project_states, session.clock)
    if ready is not None:
        session.follow_engine_events(ready.on_event)
    ready_scope = anyio.CancelScope()  # cancelled when the events show the stack ready

    async def end_wait_when_ready() -> None:
        if ready is not None and await ready.wait_until_ready():
            ready_scope.cancel()

    async def compose_up() -> ComposeRun | None:
        with ready_scope:
            return await client.compose.up(
                request.files, request.project, request.services, request.wait_timeout_seconds, options,
                request.compose_profiles, request.env_files,
            )  # fmt: skip
        return None

    async with tasks_beside(end_wait_when_ready):
        result = await compose_up() if stop is None else await stop.until_requested(compose_up)
    confirmed = list(ready.confirmed) if ready_scope.cancelled_caught and ready is not None else None
    return _ComposeUp(result, confirmed)


async def _analyse(
    session: Session,
    request: StartRequest,
    before_analysis: StartOutcome,
    confirmed: list[ContainerState] | None,
    stopped: bool,
) -> StartOutcome:
    """What happened, read side by side: the containers' states and memory, with the OOM kills
    the session counted; `before_analysis` is what compose and the clock said."""
    client, settings = session.client, session.settings
    states_slot: Slot[list[ContainerState]] = Slot()
    snapshot_slot: Slot[ResourceSnapshot] = Slot()

    async def final_states(fresh: bool = False) -> list[ContainerState]:
        if confirmed is not None and not fresh:
            return confirmed  # the inspection that found it ready, a moment ago
        containers = await client.container.ls(project=before_analysis.project)
        return await client.container.inspect([c.id for c in containers])

    async def catch_up() -> None:
        # Every kill of the start counts: docker's events of it not yet come through the stream,
        # and the cgroup counters, are read now.
        await session.catch_up()

    try:
        with unwrapped_errors():
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(catch_up)
                tasks.start_soon(states_slot.fill, final_states)
                tasks.start_soon(
                    snapshot_slot.fill, lambda: take_snapshot(client, settings, before_analysis.project)
                )
            states = states_slot.value
            if confirmed is not None and exited_since_look(confirmed, session.events):
                states = await final_states(fresh=True)
    except DockerUnavailableError as lost:
        # The engine went away: report what is known (compose's word).
        return replace(before_analysis, engine_error=str(lost))
    snapshot = snapshot_slot.value
    session.settle(states)
    ooms = session.judge.ledger.kills
    services = _service_outcomes(states, snapshot, session.judge.peaks)
    compose_ok = before_analysis.ready_by_events or before_analysis.compose_returncode == 0
    crashed = crashed_during_start(states, session.started_wall, session.events)
    ok = compose_ok and not ooms and not stopped and not crashed
    brought_down = False
    if not ok and request.down_on_failure and not stopped:
        await client.compose.down(request.files, request.project, request.compose_profiles, request.env_files)
        brought_down = True
    return replace(
        before_analysis,
        ok=ok,
        services=services,
        ooms=tuple(ooms),
        snapshot=snapshot,
        memory_verdict="" if ok else memory_verdict(ooms, services, snapshot),
        notes=start_notes(services, compose_ok, snapshot.engine, crashed, ooms),
        brought_down=brought_down,
    )


def exited_since_look(looked: Sequence[ContainerState], events: Iterable[Event]) -> bool:
    """Whether a container the look showed running has exited since, by the session's events
    (then the look is out of date)."""
    running = {state.id for state in looked if state.running}
    return any(event.type is EventType.EXITED and event.container_id in running for event in events)


def crashed_during_start(
    states: Sequence[ContainerState], since: datetime, events: Iterable[Event]
) -> list[ContainerState]:
    """The stack's containers that stopped with an error (any code but 0) during the start: the
    session saw them exit, or they finished after `since` (its start). A crash fails the start
    even when compose's `--wait` found the container running a moment before."""
    exited = {event.container_id for event in events if event.type is EventType.EXITED}
    return [
        state
        for state in states
        if not state.running
        and not state.one_off
        and state.exit_code != 0
        and (state.id in exited or (state.finished_at is not None and state.finished_at >= since))
    ]


def _service_outcomes(
    states: Sequence[ContainerState], snapshot: ResourceSnapshot, peaks: dict[str, int]
) -> tuple[ServiceOutcome, ...]:
    memory_by_id = {container.id: container for container in snapshot.containers}
    outcomes = []
    for state in sorted(states, key=lambda s: (s.service or "", name_order(s.name))):
        memory = memory_by_id.get(state.id)
        peak = peaks.get(state.id)
        if memory is not None:  # the last look may be the highest yet
            peak = max(peak or 0, memory.memory_usage_bytes)
        outcomes.append(
            ServiceOutcome(
                service=state.service or state.name,
                container=state.name,
                container_id=state.id,
                state=state.status,
                health=state.health_status,
                last_health_output=state.last_health_output,
                health_checks_run=state.health_checks_run,
                exit_code=None if state.running else state.exit_code,
                memory=memory,
                peak_bytes=peak,
            )
        )
    return tuple(outcomes)


def start_notes(
    services: Sequence[ServiceOutcome],
    compose_ok: bool,
    engine: EngineInfo,
    crashed: Sequence[ContainerState] = (),
    ooms: Sequence[OomKill] = (),
) -> tuple[str, ...]:
    """What a failed start's analysis should add: compose's rule for one-shots, health checks
    that never ran (and why, on this engine), and, where compose found the stack started, the
    services that crashed since (those OOM-killed are told with their kill)."""
    if compose_ok:
        killed = {kill.container_id for kill in ooms if kill.kind is OomKind.CONTAINER}
        return tuple(
            CRASHED_NOTE.format(service=state.service or state.name, code=state.exit_code)
            for state in crashed
            if state.id not in killed
        )
    one_shots = [
        ONE_SHOT_NOTE.format(service=service.service)
        for service in services
        if service.state == "exited" and service.exit_code == 0
    ]
    never_checked = [
        HEALTH_NEVER_RAN_NOTE.format(service=service.service)
        + HEALTH_NEVER_RAN_CAUSE[engine.health_checks_need_systemd]
        for service in services
        if service.state == "running" and service.health == "starting" and service.health_checks_run == 0
    ]
    return tuple(one_shots + never_checked)


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
