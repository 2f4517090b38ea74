"""The autoscaler (`up --autoscale`, `watch --autoscale`): for each scaled service, one replica
less at CRITICAL, one more after a calm period at SAFE when the budget allows, within the
service's range. Deciding is pure (`propose`); the `Autoscaler` is a session observer that
takes each frame and acts in its own task, so that a compose call never holds up a tick."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from pathlib import Path

import anyio

from dockermem.clock import Clock
from dockermem.config import Settings
from dockermem.core.events import Event, EventType, Frame, SessionSummary
from dockermem.core.preflight import measure_budget
from dockermem.core.scaling import ScaledService, ScalePlan, ScaleRange, running_plan
from dockermem.core.session import Observer, Session
from dockermem.core.thresholds import ThresholdLevel, Thresholds
from dockermem.docker.models import ReplicaContainer
from dockermem.errors import DockermemError
from dockermem.units import format_bytes

# A replica shed under memory pressure gets this long to stop before it is killed.
SCALE_DOWN_STOP_SECONDS = 2
SCALE_UP_WAIT_SECONDS = 120.0
# Replicas made within this long of each other were made by one compose call.
SAME_BATCH_SECONDS = 1.0


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
class ScalingTimes:
    """When the autoscaler last changed one service, and since when the service is SAFE."""

    last_change: float = -math.inf
    safe_since: float | None = None


def propose(
    service: ScaledService, times: ScalingTimes, pressure: Pressure, now: float, policy: AutoscalePolicy
) -> Proposal | None:
    """Down by one at CRITICAL or above; up by one once the service has been SAFE for the calm
    period; nothing at WARNING (it also restarts the calm period), within the minimum interval
    of the last change, or at the range's ends. Updates the calm-period clock."""
    if pressure.level is not ThresholdLevel.SAFE:
        times.safe_since = None
    elif times.safe_since is None:
        times.safe_since = now
    if now - times.last_change < policy.min_interval_seconds:
        return None
    if pressure.level >= ThresholdLevel.CRITICAL:
        if service.replicas > service.scale.minimum:
            return Proposal(
                Direction.DOWN, service.replicas - 1, f"{pressure.level.value.upper()}: {pressure.cause}"
            )
        return None
    if (
        times.safe_since is not None
        and now - times.safe_since >= policy.calm_seconds
        and service.replicas < service.scale.maximum
    ):
        return Proposal(Direction.UP, service.replicas + 1, f"SAFE for {now - times.safe_since:.0f}s")
    return None


def note_change(times: ScalingTimes, now: float) -> None:
    """After a change (or a failed attempt): the interval and the calm period start again."""
    times.last_change = now
    times.safe_since = None


def service_pressure(frame: Frame, project: str | None, service: str) -> Pressure:
    """The worst of the host's level, the engines', and the service's own containers'."""
    candidates = [Pressure(frame.host_level, f"host memory at {frame.host.memory_percent:.1f}%")]
    candidates += [
        Pressure(engine.level, f"engine memory at {engine.memory_percent:.1f}% in containers")
        for engine in frame.engines
        if engine.memory_percent is not None
    ]
    for container in frame.containers:
        if container.service == service and (project is None or container.project == project):
            if container.memory_percent is None:
                cause = f"{container.name} at {format_bytes(container.memory_usage_bytes)} (no limit)"
            else:
                cause = f"{container.name} at {container.memory_percent:.1f}% of its limit"
            candidates.append(Pressure(container.level, cause))
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


@dataclass(frozen=True)
class ScaleEvent:
    """One change of a service's replica count."""

    at: datetime
    service: str
    from_replicas: int
    to_replicas: int
    reason: str
    removed: str | None = None  # the container shed, when going down

    def describe(self) -> str:
        """`scaled w 3 -> 2: CRITICAL: p-w-3 at 81.2% of its limit (removed p-w-3)`."""
        removed = f" (removed {self.removed})" if self.removed else ""
        return f"scaled {self.service} {self.from_replicas} -> {self.to_replicas}: {self.reason}{removed}"


class Autoscaler(Observer):
    """Carries out the policy for the scaled services of the session's compose project. With a
    plan (`up --autoscale`, after the start) it starts from the chosen counts; without one
    (`watch --autoscale`) it reads the running stack's counts first."""

    def __init__(
        self,
        settings: Settings,
        files: Sequence[Path],
        project: str | None,
        ranges: Sequence[ScaleRange],
        plan: ScalePlan | None = None,
    ) -> None:
        self.settings = settings
        self.files = tuple(files)
        self.project = project  # as given to compose (-p); None: compose takes it from the file
        self.ranges = tuple(ranges)
        self.plan = plan
        self.policy = AutoscalePolicy.from_settings(settings)
        self.changes: list[ScaleEvent] = []
        self.services: dict[str, ScaledService] = {}
        self._times: dict[str, ScalingTimes] = {}
        self._compose_project: str | None = None
        self._fixed_bytes = 0
        self._clock: Clock | None = None
        self._began = 0.0
        self._ended: float | None = None
        self._latest: Frame | None = None
        self._wake: anyio.Event | None = None

    @property
    def elapsed_seconds(self) -> float:
        """How long it has kept the stack (from when it was plugged in)."""
        if self._clock is None:
            return 0.0
        return (self._ended if self._ended is not None else self._clock.monotonic()) - self._began

    @property
    def replicas(self) -> dict[str, int]:
        """The replica count of each scaled service now."""
        return {name: service.replicas for name, service in self.services.items()}

    def begin(self, session: Session) -> None:
        self._clock = session.clock
        self._began = session.clock.monotonic()

    def finish(self, summary: SessionSummary) -> None:
        if self._clock is not None:
            self._ended = self._clock.monotonic()

    def frame(self, frame: Frame) -> None:
        self._latest = frame
        if self._wake is not None:
            self._wake.set()

    async def run(self, session: Session) -> None:
        """Act on the latest frame, one at a time, until cancelled."""
        if self.plan is None:
            # A stack whose figures cannot be read cannot be scaled: that ends the run, as it
            # ends a command (a bad --scale service is exit 2).
            self._compose_project, self.plan = await running_plan(
                session.client, self.settings, self.files, self.project, self.ranges
            )
        else:
            self._compose_project = session.project
        self.start(self.plan, self._compose_project)
        while True:
            self._wake = anyio.Event()
            if self._latest is None:
                await self._wake.wait()
            frame, self._latest = self._latest, None
            if frame is not None:
                await self.step(session, frame)

    def start(self, plan: ScalePlan, compose_project: str | None) -> None:
        """Take up the plan: each scaled service at its count, its calm period not begun."""
        self.plan = plan
        self._compose_project = compose_project
        self._fixed_bytes = plan.fixed_bytes
        self.services = {scaled.service: scaled for scaled in plan.services}
        self._times = {name: ScalingTimes() for name in self.services}

    async def step(self, session: Session, frame: Frame) -> None:
        """Judge each scaled service against one frame; change at most one replica of each."""
        for name, service in list(self.services.items()):
            now = session.clock.monotonic()
            times = self._times[name]
            pressure = service_pressure(frame, self._compose_project, name)
            proposal = propose(service, times, pressure, now, self.policy)
            if proposal is None:
                continue
            if proposal.direction is Direction.UP:
                need = self.required_bytes() + service.per_replica_bytes
                try:
                    engine = await session.client.system.info()
                    measured = await measure_budget(session.client, self.settings, engine)
                except DockermemError as error:
                    session.emit(self._error(session, f"autoscale: budget not measured: {error}"))
                    continue
                stack_usage = sum(
                    c.memory_usage_bytes for c in frame.containers if c.project == self._compose_project
                )
                budget = measured.with_stack_running(stack_usage).available_bytes
                if need > budget:
                    continue  # the calm period holds; the budget is asked again next time
                reason = f"{proposal.reason}; {format_bytes(need)} needed of {format_bytes(budget)} budget"
                proposal = replace(proposal, reason=reason)
            await self._apply(session, service, times, proposal, now)

    def required_bytes(self) -> int:
        """What the stack counts for at the current replica counts."""
        return self._fixed_bytes + sum(s.replicas * s.per_replica_bytes for s in self.services.values())

    async def _apply(
        self, session: Session, service: ScaledService, times: ScalingTimes, proposal: Proposal, now: float
    ) -> None:
        removed: str | None = None
        try:
            if proposal.direction is Direction.DOWN:
                removed = await self._shed_newest(session, service, proposal.to)
            else:
                await self._compose_scale(session, service.service, proposal.to)
        except DockermemError as error:
            note_change(times, now)  # no retry before the interval has passed
            session.emit(
                self._error(session, f"autoscale: scaling {service.service} to {proposal.to} failed: {error}")
            )
            return
        note_change(times, session.clock.monotonic())
        self.services[service.service] = replace(service, replicas=proposal.to)
        change = ScaleEvent(
            session.clock.now(), service.service, service.replicas, proposal.to, proposal.reason, removed
        )
        self.changes.append(change)
        session.emit(
            Event(
                EventType.SCALED, change.at, session.engines[0][0], None, change.describe(),
                project=self._compose_project, service=change.service,
                details={"from": change.from_replicas, "to": change.to_replicas, "reason": change.reason,
                         "removed": change.removed},
            )
        )  # fmt: skip

    async def _shed_newest(self, session: Session, service: ScaledService, to: int) -> str | None:
        """Remove the newest replica. Compose's own scale-down removes the highest-numbered
        one, which is the newest unless a replica was recreated since; then it is removed
        here, by id."""
        assert self._compose_project is not None
        replicas = await session.client.container.replicas(self._compose_project, service.service)
        newest = newest_replica(replicas)
        highest = max(replicas, key=lambda r: r.number or 0, default=None)
        if newest is None or highest is None:
            return None
        if newest.id == highest.id:
            await self._compose_scale(session, service.service, to)
        else:
            await session.client.container.stop([newest.id], SCALE_DOWN_STOP_SECONDS)
            removal = await session.client.container.remove([newest.id])
            if not removal.removed:
                raise DockermemError("; ".join(removal.refused) or f"docker rm did not remove {newest.name}")
        return newest.name

    async def _compose_scale(self, session: Session, service: str, replicas: int) -> None:
        await session.client.compose.scale(
            self.files, self.project, service, replicas, SCALE_UP_WAIT_SECONDS, SCALE_DOWN_STOP_SECONDS
        )

    def _error(self, session: Session, message: str) -> Event:
        return Event(EventType.ERROR, session.clock.now(), session.engines[0][0], None, message)
