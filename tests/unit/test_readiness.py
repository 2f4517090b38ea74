"""The rule `up` applies to end compose's wait early: what compose waits for, and when the
engine's containers show it done. The states are built here; the parsers that make them from
`docker inspect` are tested on recorded output in test_parse.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import anyio
import anyio.lowlevel
import pytest

from dockermem.core.readiness import ReadyWatch, WaitPlan, stack_ready, wait_plan
from dockermem.docker.models import ComposeProjectConfig, ComposeService, ContainerEvent, ContainerState
from dockermem.docker.parse import parse_compose_config
from dockermem.errors import DockerCommandError
from tests.conftest import FIXTURES

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def state(container_id: str, service: str, status: str = "running", health: str | None = None,
          exit_code: int = 0) -> ContainerState:  # fmt: skip
    return ContainerState(
        id=container_id, name=f"p-{container_id}", status=status, oom_killed=False, exit_code=exit_code,
        pid=1, restart_count=0, health_status=health, last_health_output=None, memory_limit_bytes=None,
        project="p", service=service, started_at=NOW,
    )  # fmt: skip


def event(action: str, container_id: str) -> ContainerEvent:
    return ContainerEvent(NOW, action, container_id, f"p-{container_id}", "p", None, None)


START_ORDER = parse_compose_config((FIXTURES / "compose-config/start-order.json").read_text())


def config(*services: ComposeService) -> ComposeProjectConfig:
    return ComposeProjectConfig("p", services, (), ())


def test_plan_counts_replicas_and_one_shots_waited_for_by_completion() -> None:
    without_hooks = config(*(replace(s, post_start=False) for s in START_ORDER.services))
    plan = wait_plan(without_hooks, ())
    assert plan == WaitPlan({"app": 3, "db": 2, "migrate": 1}, frozenset({"migrate"}))
    assert plan is not None and plan.container_count == 6
    assert wait_plan(without_hooks, (), {"app": 1}) == WaitPlan(
        {"app": 1, "db": 2, "migrate": 1}, frozenset({"migrate"})
    )


def test_plan_follows_dependencies_of_the_selected_services_only() -> None:
    without_hooks = config(*(replace(s, post_start=False) for s in START_ORDER.services))
    assert wait_plan(without_hooks, ("migrate",)) == WaitPlan({"migrate": 1, "db": 2}, frozenset())
    assert wait_plan(without_hooks, ("db",)) == WaitPlan({"db": 2}, frozenset())


def test_no_plan_for_hooks_or_services_compose_config_does_not_show() -> None:
    assert wait_plan(START_ORDER, ()) is None  # db has post_start hooks
    assert wait_plan(START_ORDER, ("app",)) is None  # app depends on db
    assert wait_plan(config(ComposeService("a", None, None)), ("extra",)) is None


PLAN = WaitPlan({"api": 2, "migrate": 1}, frozenset({"migrate"}))
READY = [
    state("a1", "api", health="healthy"),
    state("a2", "api"),  # no health check: running is enough
    state("m1", "migrate", status="exited", exit_code=0),
]
ALL_STARTED = {"a1", "a2", "m1"}


def test_ready_when_every_container_is_as_compose_wants_it() -> None:
    assert stack_ready(PLAN, READY, ALL_STARTED)


@pytest.mark.parametrize(
    "changed",
    [
        state("a1", "api", health="starting"),
        state("a1", "api", health="unhealthy"),
        state("a1", "api", status="restarting", health="healthy"),
        state("a1", "api", status="created"),
        state("m1", "migrate", status="exited", exit_code=1),
        state("m1", "migrate"),  # still running: not completed
    ],
)
def test_not_ready_while_one_container_is_not(changed: ContainerState) -> None:
    states = [changed if s.id == changed.id else s for s in READY]
    assert not stack_ready(PLAN, states, ALL_STARTED)


def test_not_ready_with_a_container_not_started_during_this_up() -> None:
    assert not stack_ready(PLAN, READY, ALL_STARTED - {"a2"})


def test_not_ready_with_too_few_or_too_many_containers() -> None:
    assert not stack_ready(PLAN, READY[1:], ALL_STARTED)
    extra = [*READY, state("a3", "api", health="healthy")]
    assert not stack_ready(PLAN, extra, ALL_STARTED | {"a3"})


def test_one_off_containers_are_not_counted() -> None:
    run = replace(state("r1", "api", status="exited", exit_code=1), one_off=True)
    assert stack_ready(PLAN, [*READY, run], ALL_STARTED)


class Engine:
    """What the watch's inspection would find; counts how often it is asked."""

    def __init__(self, states: Sequence[ContainerState]) -> None:
        self.states = list(states)
        self.asked = 0

    async def inspect(self) -> Sequence[ContainerState]:
        self.asked += 1
        await anyio.lowlevel.checkpoint()
        return self.states


async def _settle() -> None:
    for _ in range(5):
        await anyio.lowlevel.checkpoint()


def test_watch_asks_only_once_every_container_started_and_reported() -> None:
    anyio.run(_watch_asks_only_once_every_container_started_and_reported)


async def _watch_asks_only_once_every_container_started_and_reported() -> None:
    plan = WaitPlan({"api": 2}, frozenset())
    engine = Engine([state("a1", "api", health="starting"), state("a2", "api", health="starting")])
    watch = ReadyWatch(plan, engine.inspect)
    outcome: list[bool] = []

    async def wait() -> None:
        outcome.append(await watch.wait_until_ready())

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(wait)
        watch.on_event(event("start", "a1"))
        await _settle()
        assert engine.asked == 0  # one of two started: nothing to look at yet
        watch.on_event(event("start", "a2"))
        await _settle()
        assert engine.asked == 1 and outcome == []  # both starting
        engine.states = [state("a1", "api", health="healthy"), state("a2", "api", health="starting")]
        watch.on_event(event("health_status: healthy", "a1"))
        await _settle()
        assert engine.asked == 1  # a2 has not reported yet
        engine.states = [state("a1", "api", health="healthy"), state("a2", "api", health="healthy")]
        watch.on_event(event("health_status: healthy", "a2"))
        await _settle()
    assert outcome == [True] and engine.asked == 2
    assert watch.confirmed == engine.states


def test_watch_gives_up_when_the_engine_cannot_be_asked() -> None:
    async def failing() -> Sequence[ContainerState]:
        raise DockerCommandError(["docker", "ps"], 1, "", "Error response from daemon: conflict")

    watch = ReadyWatch(WaitPlan({"api": 1}, frozenset()), failing)
    watch.on_event(event("start", "a1"))
    assert anyio.run(watch.wait_until_ready) is False
