"""The autoscaler, replayed on a clock the test moves: its policy (down at CRITICAL, never
below MIN; up after a calm period at SAFE, never above MAX; the WARNING band between; at most
one change per minimum interval), the pressure on a service read off a frame, and what it asks
docker and tells the session, on recorded replicas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import anyio

from dockermem.clock import ManualClock
from dockermem.config import Settings
from dockermem.core.autoscale import (
    AutoscalePolicy,
    Autoscaler,
    Direction,
    Pressure,
    Proposal,
    ScalingTimes,
    note_change,
    propose,
    service_pressure,
)
from dockermem.core.events import Event, EventType, Frame
from dockermem.core.scaling import ScaledService, ScalePlan, ScaleRange
from dockermem.core.session import Observer, Session
from dockermem.core.thresholds import ThresholdLevel, Thresholds
from tests.builders import MIB, START, frame, watched
from tests.replay import FIXTURES, Answer, engine_answers, replayed

POLICY = AutoscalePolicy(Thresholds(50, 75, 90), calm_seconds=10, min_interval_seconds=5)


@dataclass
class Scaling:
    """One scaled service as the autoscaler keeps it: its record and its calm-period clock."""

    service: ScaledService
    times: ScalingTimes = field(default_factory=ScalingTimes)

    def propose(self, level: ThresholdLevel, now: float, policy: AutoscalePolicy = POLICY) -> Proposal | None:
        return propose(self.service, self.times, Pressure(level, "w-1 at some%"), now, policy)

    def change(self, to: int, now: float) -> None:
        self.service = replace(self.service, replicas=to)
        note_change(self.times, now)


def scaling(replicas: int = 3, low: int = 1, high: int = 4) -> Scaling:
    return Scaling(ScaledService(ScaleRange("w", low, high), 64 * MIB, replicas=replicas))


def test_critical_scales_down_by_one_but_never_below_min() -> None:
    w = scaling(replicas=2, low=1)
    proposal = w.propose(ThresholdLevel.CRITICAL, 100.0)
    assert proposal is not None and proposal.direction is Direction.DOWN and proposal.to == 1
    assert proposal.reason.startswith("CRITICAL: ")
    w.change(1, 100.0)
    assert w.propose(ThresholdLevel.EMERGENCY, 200.0) is None


def test_no_second_change_within_the_minimum_interval() -> None:
    w = scaling(replicas=4)
    w.change(3, 100.0)
    assert w.propose(ThresholdLevel.CRITICAL, 104.9) is None
    proposal = w.propose(ThresholdLevel.CRITICAL, 105.0)
    assert proposal is not None and proposal.to == 2


def test_up_only_after_the_calm_period_at_safe_and_never_above_max() -> None:
    w = scaling(replicas=3, high=4)
    assert w.propose(ThresholdLevel.SAFE, 0.0) is None
    assert w.propose(ThresholdLevel.SAFE, 9.9) is None
    proposal = w.propose(ThresholdLevel.SAFE, 10.0)
    assert proposal is not None and proposal.direction is Direction.UP and proposal.to == 4
    w.change(4, 10.0)
    for now in (20.0, 40.0, 60.0):
        assert w.propose(ThresholdLevel.SAFE, now) is None


def test_warning_is_the_hysteresis_band_and_restarts_the_calm_period() -> None:
    w = scaling(replicas=2)
    assert w.propose(ThresholdLevel.SAFE, 0.0) is None
    assert w.propose(ThresholdLevel.WARNING, 8.0) is None  # neither way
    assert w.propose(ThresholdLevel.SAFE, 9.0) is None
    assert w.propose(ThresholdLevel.SAFE, 18.9) is None
    proposal = w.propose(ThresholdLevel.SAFE, 19.0)
    assert proposal is not None and proposal.to == 3


def test_a_sawtooth_changes_at_most_once_per_minimum_interval() -> None:
    # Two seconds CRITICAL, two seconds SAFE, sampled every half second for a minute.
    policy = AutoscalePolicy(Thresholds(50, 75, 90), calm_seconds=1, min_interval_seconds=5)
    w = scaling(replicas=4, low=1, high=4)
    changes: list[float] = []
    for tick in range(120):
        now = tick * 0.5
        level = ThresholdLevel.CRITICAL if (now % 4) < 2 else ThresholdLevel.SAFE
        proposal = w.propose(level, now, policy)
        if proposal is not None:
            w.change(proposal.to, now)
            changes.append(now)
    assert len(changes) >= 2  # it does act
    assert all(later - earlier >= 5 for earlier, later in zip(changes, changes[1:], strict=False))
    assert len(changes) <= 60 // 5 + 1


def test_service_pressure_is_the_worst_of_host_engine_and_its_own_containers() -> None:
    seen = frame(
        watched("w-1", "w", 20, 100),
        watched("w-2", "w", 80, 100),
        watched("other-1", "other", 95, 100),
    )
    pressure = service_pressure(seen, "shop", "w")
    assert pressure.level is ThresholdLevel.CRITICAL
    assert pressure.cause == "w-2 at 80.0% of its limit"
    calm_service = frame(watched("w-1", "w", 1, 100), host_percent=80.0)
    assert service_pressure(calm_service, "shop", "w").cause == "host memory at 80.0%"
    other_project = frame(watched("w-1", "w", 95, 100, project="elsewhere"))
    assert service_pressure(other_project, "shop", "w").level is ThresholdLevel.SAFE


# The Autoscaler itself, on recorded docker outputs: what it asks docker, and what it tells.

REPLICA_IDS = (FIXTURES / "replicas" / "ps-quiet-w.txt").read_text()
REPLICA_LINES = (FIXTURES / "replicas" / "inspect-w-3.txt").read_text()
PLAN = ScalePlan(
    budget_bytes=1024 * MIB,
    fixed_bytes=100 * MIB,
    services=(ScaledService(ScaleRange("w", 1, 3), 64 * MIB, "limit", replicas=3),),
)


class Seen(Observer):
    def __init__(self) -> None:
        self.events: list[Event] = []

    def event(self, event: Event) -> None:
        self.events.append(event)


@dataclass
class Scaled:
    """What the autoscaler did over some frames: the events it told, and the docker calls."""

    events: list[Event]
    calls: list[str]
    replicas: dict[str, int]


def autoscale(
    *frames: tuple[float, Frame], answers: Sequence[Answer] = (), max_memory_gb: float = 1.0
) -> Scaled:
    """The autoscaler of PLAN (w at 3 of 1..3) given each frame at its time on the session's
    clock; docker answers from the recorded replicas of `w`, and `answers` before them."""
    client, runner = replayed(
        *answers,
        Answer(r"^ps --all --quiet .*service=w$", stdout=REPLICA_IDS),
        Answer(r"^container inspect --format ", stdout=REPLICA_LINES),
        *engine_answers(),
    )
    settings = Settings(
        max_memory_gb=max_memory_gb,
        safety_margin_gb=0,
        autoscale_calm_seconds=10,
        autoscale_min_interval_seconds=5,
    )
    clock = ManualClock(START)
    seen = Seen()
    autoscaler = Autoscaler(settings, [Path("compose.yaml")], "dmscale", [ScaleRange("w", 1, 3)], PLAN)

    async def main() -> None:
        session = Session(settings, [("default", client)], project="dmscale", clock=clock, observers=[seen])
        autoscaler.begin(session)
        autoscaler.start(PLAN, "dmscale")
        for seconds, each in frames:
            clock.advance(seconds - (clock.monotonic() - 1000.0))
            await autoscaler.step(session, each)

    anyio.run(main)
    return Scaled(seen.events, runner.calls, autoscaler.replicas)


def critical() -> Frame:
    return frame(watched("dmscale-w-3", "w", 52, 64, project="dmscale"))


def safe() -> Frame:
    return frame(watched("dmscale-w-1", "w", 4, 64, project="dmscale"))


def compose_scale(to: int) -> str:
    return rf"^compose --file compose.yaml --project-name dmscale up .* --scale w={to} -- w$"


def test_at_critical_the_newest_replica_goes_by_compose_own_scale_down() -> None:
    done = autoscale((0, critical()), answers=[Answer(compose_scale(2))])
    [scaled] = done.events
    assert (scaled.type, scaled.details["from"], scaled.details["to"]) == (EventType.SCALED, 3, 2)
    assert scaled.details["removed"] == "dmscale-w-3"  # made last, in the batch of three
    assert scaled.message.startswith("scaled w 3 -> 2: CRITICAL: dmscale-w-3 at 81.2% of its limit")
    assert done.calls[-1].endswith("--scale w=2 -- w") and done.replicas == {"w": 2}


def test_a_replica_made_after_the_others_is_stopped_and_removed_by_id() -> None:
    # w-1 recreated a minute after the batch: newest, though not the highest-numbered.
    later = REPLICA_LINES.replace('"2026-11-30T16:16:59.847340577Z"', '"2026-11-30T16:17:59.000000000Z"')
    w1 = "cdff3730060b540c7132ccf77772ef410742667aae3e5fe9402c0e12c2a9ae40"
    done = autoscale(
        (0, critical()),
        answers=[
            Answer(r"^container inspect --format ", stdout=later),
            Answer(rf"^stop --time 2 -- {w1}$"),
            Answer(rf"^rm --volumes -- {w1}$", stdout=w1 + "\n"),
        ],
    )
    assert [event.details.get("removed") for event in done.events] == ["dmscale-w-1"]
    assert not any(call.startswith("compose ") for call in done.calls)


def test_a_failed_scale_is_an_error_event_and_waits_out_the_interval() -> None:
    failing = Answer(compose_scale(2), stderr="Error response from daemon: no space left\n", returncode=1)
    done = autoscale((0, critical()), (4.9, critical()), (5, critical()), answers=[failing])
    assert [event.type for event in done.events] == [EventType.ERROR, EventType.ERROR]  # at 0 s and 5 s
    assert "autoscale: scaling w to 2 failed" in done.events[0].message
    assert "no space left" in done.events[0].message
    assert done.replicas == {"w": 3}


def test_a_replica_comes_back_after_the_calm_period_when_the_budget_allows() -> None:
    frames = [(0, critical()), *((seconds, safe()) for seconds in (6, 10, 15, 16))]
    done = autoscale(*frames, answers=[Answer(compose_scale(2)), Answer(compose_scale(3))])
    assert [(e.details["from"], e.details["to"]) for e in done.events] == [(3, 2), (2, 3)]
    assert done.events[1].details["reason"] == "SAFE for 10s; 292MiB needed of 1.00GiB budget"


def test_no_replica_comes_back_when_the_budget_does_not_allow_it() -> None:
    frames = [(0, critical()), *((seconds, safe()) for seconds in (6, 16, 30))]
    done = autoscale(*frames, answers=[Answer(compose_scale(2))], max_memory_gb=0.25)  # 256 MiB < 292 MiB
    assert [(e.details["from"], e.details["to"]) for e in done.events] == [(3, 2)]
