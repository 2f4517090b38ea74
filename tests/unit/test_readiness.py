"""The rule `up` applies to end compose's wait early: what compose waits for, and when the
engine's containers show it done. The states are built here; the parsers that make them from
`docker inspect` are tested on recorded output in test_parse.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import anyio
import anyio.lowlevel
import pytest

from dockermem.clock import Clock
from dockermem.core.readiness import COMPOSE_LOOK_SECONDS, ReadyWatch, WaitPlan, stack_ready, wait_plan
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
        project="p", service=service,
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
    state("a2", "api"),  # no health check: running is enough, once it has stayed up a while
    state("m1", "migrate", status="exited", exit_code=0),
]
FRESH = {"a1", "a2", "m1"}


def test_ready_when_every_container_is_as_compose_wants_it() -> None:
    assert stack_ready(PLAN, READY, FRESH, settled_ids=FRESH)


@pytest.mark.parametrize(
    "changed",
    [
        state("a1", "api", health="starting"),
        state("a1", "api", health="unhealthy"),
        state("a1", "api", status="restarting", health="healthy"),
        state("a1", "api", status="created"),
        state("a2", "api", status="exited", exit_code=0),  # no health check, and gone
        state("m1", "migrate", status="exited", exit_code=1),
        state("m1", "migrate"),  # still running: not completed
    ],
)
def test_not_ready_while_one_container_is_not(changed: ContainerState) -> None:
    states = [changed if s.id == changed.id else s for s in READY]
    assert not stack_ready(PLAN, states, FRESH, settled_ids=FRESH)


def test_not_ready_with_a_container_not_made_by_this_up() -> None:
    assert not stack_ready(PLAN, READY, FRESH - {"a1"}, settled_ids=FRESH)


def test_a_container_without_health_check_must_have_stayed_up_as_long_as_compose_looks() -> None:
    assert not stack_ready(PLAN, READY, FRESH, settled_ids=FRESH - {"a2"})
    assert stack_ready(PLAN, READY, FRESH, settled_ids=FRESH - {"a1", "m1"})  # a1 is healthy


def test_not_ready_with_too_few_or_too_many_containers() -> None:
    assert not stack_ready(PLAN, READY[1:], FRESH, settled_ids=FRESH)
    extra = [*READY, state("a3", "api", health="healthy")]
    assert not stack_ready(PLAN, extra, FRESH | {"a3"}, settled_ids=FRESH | {"a3"})


def test_one_off_containers_are_not_counted() -> None:
    run = replace(state("r1", "api", status="exited", exit_code=1), one_off=True)
    assert stack_ready(PLAN, [*READY, run], FRESH, settled_ids=FRESH)


class Engine:
    """What the watch's look would find; counts how often it is asked, and can have an event
    arrive while it looks."""

    def __init__(self, states: Sequence[ContainerState]) -> None:
        self.states = list(states)
        self.asked = 0
        self.while_looking: Callable[[], None] | None = None
        self.clock: Clock | None = None  # when set, the time of each look by it
        self.looked_at: list[float] = []

    async def inspect(self) -> Sequence[ContainerState]:
        self.asked += 1
        if self.clock is not None:
            self.looked_at.append(self.clock.monotonic())
        seen = list(self.states)
        if self.while_looking is not None:
            self.while_looking()
            self.while_looking = None
        await anyio.lowlevel.checkpoint()
        return seen


async def _settle() -> None:
    for _ in range(5):
        await anyio.lowlevel.checkpoint()


def made(watch: ReadyWatch, *containers: str) -> None:
    for container in containers:
        watch.on_event(event("create", container))
        watch.on_event(event("start", container))


def test_watch_looks_only_once_every_container_started_and_reported() -> None:
    async def scenario() -> None:
        engine = Engine([state("a1", "api", health="starting"), state("a2", "api", health="starting")])
        watch = ReadyWatch(WaitPlan({"api": 2}, frozenset()), engine.inspect)
        outcome: list[bool] = []

        async def wait() -> None:
            outcome.append(await watch.wait_until_ready())

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(wait)
            made(watch, "a1")
            watch.on_event(event("start", "a2"))  # restarted, but not created by this up
            await _settle()
            assert engine.asked == 0  # one of two made: nothing to look at yet
            made(watch, "a2")
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

    with_deadline(scenario)


def test_watch_looks_again_when_an_event_comes_while_it_looks() -> None:
    async def scenario() -> None:
        engine = Engine([state("a1", "api", health="healthy")])
        watch = ReadyWatch(WaitPlan({"api": 1}, frozenset()), engine.inspect)
        # The look finds a1 healthy, but a1 dies meanwhile: that look must not count.
        engine.while_looking = lambda: watch.on_event(event("die", "a1"))
        made(watch, "a1")
        assert await watch.wait_until_ready() is True
        assert engine.asked == 2

    with_deadline(scenario)


def test_watch_looks_again_once_a_container_without_health_check_has_stayed_up() -> None:
    async def scenario() -> None:
        engine = Engine([state("a1", "api")])
        watch = ReadyWatch(WaitPlan({"api": 1}, frozenset()), engine.inspect)
        engine.clock = watch.clock
        started = watch.clock.monotonic()
        made(watch, "a1")
        assert await watch.wait_until_ready() is True
        assert engine.asked == 2  # too young at the first look; no event came, it looked again
        # By the watch's own clock (the one it judges by), the second look came once a1 had
        # been up the settling time.
        assert engine.looked_at[1] - started >= COMPOSE_LOOK_SECONDS

    with_deadline(scenario)


def test_watch_gives_up_when_the_engine_cannot_be_asked() -> None:
    async def failing() -> Sequence[ContainerState]:
        raise DockerCommandError(["docker", "ps"], 1, "", "Error response from daemon: conflict")

    async def scenario() -> None:
        watch = ReadyWatch(WaitPlan({"api": 1}, frozenset()), failing)
        made(watch, "a1")
        assert await watch.wait_until_ready() is False

    with_deadline(scenario)


def with_deadline(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run it; a watch that never returns fails the test in seconds instead of hanging it."""

    async def bounded() -> None:
        with anyio.fail_after(10):
            await scenario()

    anyio.run(bounded)


def test_a_health_check_that_never_ran_is_said_so() -> None:
    from dockermem.core.lifecycle import ServiceOutcome, start_notes
    from tests.recorded import recorded_engine

    def outcome(health: str, checks: int) -> ServiceOutcome:
        return ServiceOutcome("db", "p-db-1", "id", "running", health, None, None, None, None, checks)

    podman = recorded_engine("podman-4.3")
    docker = recorded_engine("engine-26")
    [note] = start_notes([outcome("starting", 0)], compose_ok=False, engine=podman)
    assert note.startswith("db's health check never ran (its health log is empty)")
    assert "Podman runs health checks with systemd timers" in note
    [note] = start_notes([outcome("starting", 0)], compose_ok=False, engine=docker)
    assert "Podman" not in note and "interval" in note
    # It ran: it is merely slow. Compose succeeded: nothing to explain.
    assert start_notes([outcome("starting", 3)], compose_ok=False, engine=podman) == ()
    assert start_notes([outcome("starting", 0)], compose_ok=True, engine=podman) == ()
