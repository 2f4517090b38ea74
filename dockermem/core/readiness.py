"""When a starting stack is ready, judged from the engine's events.

`docker compose up --wait` looks at the containers every 500 ms, so it returns up to half a
second after the last service became healthy. The engine says so at once (a `health_status`
event), and `up` follows the engine's events anyway: when they show every service compose
waits for ready, one look (`docker ps`, `docker inspect`) confirms it, and `up` ends compose's
wait (SIGINT, which leaves the containers running) instead of waiting for compose's next look.

The rule is compose's own, applied strictly: whenever it cannot be sure, it says "not ready"
and compose's verdict stands. Every container must have been created and started during this
`up` (an older one, even one restarted meanwhile by its restart policy, may yet be recreated
by compose), one without a health check must have stayed up for the 500 ms compose takes to
look, every service must have exactly its replicas, and a service with `post_start` hooks is
left to compose."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import anyio

from dockermem.clock import Clock, current_clock
from dockermem.docker.models import ComposeProjectConfig, ComposeService, ContainerEvent, ContainerState
from dockermem.errors import DockermemError

COMPLETED = "service_completed_successfully"
# Compose's first look comes 500 ms after its start phase: a container without a health check
# that has not stayed up that long could still fail it.
COMPOSE_LOOK_SECONDS = 0.5


@dataclass(frozen=True)
class WaitPlan:
    """What `up --wait` waits for: each service's container count, and whether it must be
    running (and healthy, when it has a health check) or have exited 0."""

    replicas: Mapping[str, int]
    must_complete: frozenset[str]

    @property
    def container_count(self) -> int:
        return sum(self.replicas.values())


def wait_plan(
    config: ComposeProjectConfig, selected: Sequence[str], replicas: Mapping[str, int] | None = None
) -> WaitPlan | None:
    """The services `up` starts (the selected ones and what they depend on, else all) and how
    many containers of each; None when the rule cannot be applied to this stack."""
    by_name = {service.name: service for service in config.services}
    wanted: dict[str, ComposeService] = {}
    to_visit = list(selected) or list(by_name)
    while to_visit:
        name = to_visit.pop()
        if name in wanted:
            continue
        service = by_name.get(name)
        if service is None or service.post_start:
            return None  # a service compose config does not show (a profile), or hooks to run
        wanted[name] = service
        to_visit.extend(dependency.service for dependency in service.depends_on)
    counts = {name: (replicas or {}).get(name, service.replicas) for name, service in wanted.items()}
    must_complete = frozenset(
        dependency.service
        for service in wanted.values()
        for dependency in service.depends_on
        if dependency.condition == COMPLETED
    )
    return WaitPlan(counts, must_complete)


def stack_ready(
    plan: WaitPlan, states: Sequence[ContainerState], fresh_ids: set[str], settled_ids: set[str]
) -> bool:
    """Whether compose's `--wait` would now find every service ready, with nothing left for it
    to do: each service has its containers, each created and started by this `up`
    (`fresh_ids`), and each running and healthy, or running without a health check for as long
    as compose takes to look (`settled_ids`), or exited 0 when a service waits for its
    completion."""
    containers: dict[str, list[ContainerState]] = {}
    for state in states:
        if state.service is not None and not state.one_off:
            containers.setdefault(state.service, []).append(state)
    for service, count in plan.replicas.items():
        own = containers.get(service, [])
        if len(own) != count:
            return False
        for state in own:
            if state.id not in fresh_ids:
                return False
            if service in plan.must_complete:
                if state.status != "exited" or state.exit_code != 0:
                    return False
            elif not state.running:
                return False
            elif state.health_status is None:
                if state.id not in settled_ids:
                    return False
            elif state.health_status != "healthy":
                return False
    return True


@dataclass
class ReadyWatch:
    """Follows the project's container events during `up` and, when they suggest the stack is
    ready, looks (`docker ps` and `docker inspect`) to confirm."""

    plan: WaitPlan
    inspect_project: Callable[[], Awaitable[Sequence[ContainerState]]]
    clock: Clock = field(default_factory=current_clock)
    confirmed: Sequence[ContainerState] = ()  # the look that found the stack ready
    _created: set[str] = field(default_factory=set)
    _started: dict[str, float] = field(default_factory=dict)  # when this up saw each start
    # Containers last seen with a health check still `starting`: no use looking before they report.
    _awaiting_health: set[str] = field(default_factory=set)
    _reported_health: set[str] = field(default_factory=set)
    _changed: anyio.Event = field(default_factory=anyio.Event)

    def on_event(self, event: ContainerEvent) -> None:
        """An event of the project's containers (create, start, health_status, die, ...)."""
        if event.action == "create":
            self._created.add(event.container_id)
        elif event.action == "start":
            self._started[event.container_id] = self.clock.monotonic()
        elif event.action.startswith("health_status"):
            self._awaiting_health.discard(event.container_id)
            self._reported_health.add(event.container_id)
        self._changed.set()

    @property
    def fresh_ids(self) -> set[str]:
        """Containers this `up` saw created and started (a restart of an older one is not)."""
        return {container for container in self._started if container in self._created}

    def _worth_looking(self) -> bool:
        return len(self.fresh_ids) >= self.plan.container_count and not self._awaiting_health

    async def wait_until_ready(self) -> bool:
        """True once the stack is ready; False when the engine cannot be asked (compose's own
        verdict then stands). Cancel it to stop watching."""
        look_again_at = math.inf  # for a container without a health check still settling
        while True:
            with anyio.move_on_after(look_again_at - self.clock.monotonic()):
                await self._changed.wait()
            look_again_at = math.inf
            self._changed = anyio.Event()
            if not self._worth_looking():
                continue
            self._reported_health.clear()
            looked_at = self.clock.monotonic()
            try:
                states = await self.inspect_project()
            except DockermemError:
                return False
            fresh = self.fresh_ids
            settled = {c for c in fresh if looked_at - self._started[c] >= COMPOSE_LOOK_SECONDS}
            # An event while looking (a death, a health change) makes the look out of date.
            if not self._changed.is_set() and stack_ready(self.plan, states, fresh, settled):
                self.confirmed = states
                return True
            settling = [
                self._started[state.id]
                for state in states
                if state.id in fresh and state.id not in settled and state.health_status is None
            ]
            if settling:
                look_again_at = max(settling) + COMPOSE_LOOK_SECONDS
            starting = {state.id for state in states if state.running and state.health_status == "starting"}
            # A container that reported while we looked is not waited for again.
            self._awaiting_health = starting - self._reported_health
