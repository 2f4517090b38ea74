"""When a starting stack is ready, judged from the engine's events.

`docker compose up --wait` looks at the containers every 500 ms, so it returns up to half a
second after the last service became healthy. The engine says so at once (a `health_status`
event), and `up` follows the engine's events anyway: when they show every service compose
waits for ready, one inspection confirms it, and `up` ends compose's wait (SIGINT, which leaves
the containers running) instead of waiting for compose's next look.

The rule is compose's own, applied strictly: whenever it cannot be sure, it says "not ready"
and compose's verdict stands. Every container must have been started during this `up` (a
container that was already running may be about to be recreated by compose), every service
must have exactly its replicas, and a service with `post_start` hooks is left to compose."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import anyio

from dockermem.docker.models import ComposeProjectConfig, ComposeService, ContainerEvent, ContainerState
from dockermem.errors import DockermemError

COMPLETED = "service_completed_successfully"


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


def stack_ready(plan: WaitPlan, states: Sequence[ContainerState], started_ids: set[str]) -> bool:
    """Whether compose's `--wait` would now find every service ready, and nothing left for it
    to do: each service has its containers, all started during this `up` (`started_ids`),
    running and healthy (or without a health check), or exited 0 when a service waits for its
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
            if state.id not in started_ids:
                return False
            if service in plan.must_complete:
                if state.status != "exited" or state.exit_code != 0:
                    return False
            elif not state.running or state.health_status not in (None, "healthy"):
                return False
    return True


@dataclass
class ReadyWatch:
    """Follows the project's container events during `up` and, when they suggest the stack is
    ready, asks `inspect` to confirm."""

    plan: WaitPlan
    inspect_project: Callable[[], Awaitable[Sequence[ContainerState]]]
    started_ids: set[str] = field(default_factory=set)
    confirmed: Sequence[ContainerState] = ()  # the inspection that found the stack ready
    # Containers last seen with a health check still `starting`: no use looking before they report.
    _awaiting_health: set[str] = field(default_factory=set)
    _reported_health: set[str] = field(default_factory=set)
    _changed: anyio.Event = field(default_factory=anyio.Event)

    def on_event(self, event: ContainerEvent) -> None:
        """An event of the project's containers (start, health_status, die, ...)."""
        if event.action == "start":
            self.started_ids.add(event.container_id)
        elif event.action.startswith("health_status"):
            self._awaiting_health.discard(event.container_id)
            self._reported_health.add(event.container_id)
        self._changed.set()

    def _worth_looking(self) -> bool:
        return len(self.started_ids) >= self.plan.container_count and not self._awaiting_health

    async def wait_until_ready(self) -> bool:
        """True once the stack is ready; False when the engine cannot be asked (compose's own
        verdict then stands). Cancel it to stop watching."""
        while True:
            await self._changed.wait()
            self._changed = anyio.Event()
            if not self._worth_looking():
                continue
            self._reported_health.clear()
            try:
                states = await self.inspect_project()
            except DockermemError:
                return False
            if stack_ready(self.plan, states, self.started_ids):
                self.confirmed = states
                return True
            starting = {state.id for state in states if state.running and state.health_status == "starting"}
            # A container that reported while we looked is not waited for again.
            self._awaiting_health = starting - self._reported_health
