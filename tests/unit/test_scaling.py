"""The pure parts of scaling: parsing --scale, choosing replica counts, the autoscale policy
(hysteresis, calm period, minimum interval), which replica is the newest, and the renderers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from dockermem.cli.app import app
from dockermem.core.preflight import MemoryBudget
from dockermem.core.scaling import (
    AutoscalePolicy,
    ContainerLoad,
    Direction,
    Pressure,
    ScaledService,
    ScaleEvent,
    ScaleRange,
    ServiceScaling,
    StackLoad,
    WorkerFit,
    changed,
    check_unique,
    choose_replicas,
    newest_replica,
    parse_scale,
    propose,
    runtime_budget,
    service_pressure,
)
from dockermem.core.thresholds import ThresholdLevel, Thresholds
from dockermem.docker.models import ReplicaContainer
from dockermem.docker.parse import parse_replicas
from dockermem.render.scaling import choice_line, fit_document, scale_event_document, scale_event_line

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("api=1..4", ScaleRange("api", 1, 4, "api=1..4")),
        ("api=3", ScaleRange("api", 3, 3, "api=3")),
        ("w.x_y-z=0..2", ScaleRange("w.x_y-z", 0, 2, "w.x_y-z=0..2")),
    ],
)
def test_parse_scale_accepts_ranges_and_fixed_counts(text: str, expected: ScaleRange) -> None:
    assert parse_scale(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("api", "expected SERVICE=N"),
        ("api=", "expected SERVICE=N"),
        ("api=1..", "expected SERVICE=N"),
        ("api=1-4", "expected SERVICE=N"),
        ("api=1.5", "expected SERVICE=N"),
        ("=3", "expected SERVICE=N"),
        ("-x=3", "expected SERVICE=N"),
        ("api=-1", "negative"),
        ("api=1..-2", "negative"),
        ("api=5..2", "MIN 5 is above MAX 2"),
    ],
)
def test_parse_scale_refuses_bad_values_naming_them(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_scale(text)
    assert message in str(caught.value)
    assert repr(text) in str(caught.value)


def test_a_service_scaled_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="more than once"):
        check_unique([parse_scale("a=1..2"), parse_scale("a=3")])


@pytest.mark.parametrize("value", ["api", "api=5..2", "api=-1", "api=x"])
def test_up_refuses_a_bad_scale_with_exit_2_and_one_line(value: str) -> None:
    result = CliRunner().invoke(app, ["up", "--scale", value])
    assert result.exit_code == 2
    assert value in result.output


def test_autoscale_without_a_range_is_bad_usage() -> None:
    result = CliRunner().invoke(app, ["up", "--scale", "api=2", "--autoscale"])
    assert result.exit_code == 2
    assert "--autoscale needs" in result.output


@pytest.mark.parametrize("value", ["lots", "0", "-1g", "1x"])
def test_fit_refuses_a_bad_size(value: str) -> None:
    result = CliRunner().invoke(app, ["fit", "--per-worker", value])
    assert result.exit_code == 2
    assert value in result.output


def scaled(service: str, low: int, high: int, per_mib: int) -> ScaledService:
    return ScaledService(ScaleRange(service, low, high), per_mib * MIB)


@pytest.mark.parametrize(
    ("budget_mib", "expected"),
    [(191, 2), (192, 3), (255, 3), (256, 4), (320, 5), (10_000, 8)],
)
def test_the_largest_count_that_fits_is_chosen(budget_mib: int, expected: int) -> None:
    plan = choose_replicas(budget_mib * MIB, 0, [scaled("w", 1, 8, 64)])
    assert plan.ok
    assert plan.replicas == {"w": expected}
    choice = plan.choices[0]
    if expected < 8:
        assert choice.next_need_bytes == (expected + 1) * 64 * MIB
        assert choice.next_need_bytes > plan.budget_bytes
    else:
        assert choice.next_need_bytes is None


def test_the_rest_of_the_stack_comes_first() -> None:
    plan = choose_replicas(300 * MIB, 100 * MIB, [scaled("w", 0, 8, 64)])
    assert plan.replicas == {"w": 3}
    assert plan.required_bytes == 100 * MIB + 3 * 64 * MIB


def test_not_even_min_fits_is_not_ok_and_stays_at_min() -> None:
    plan = choose_replicas(100 * MIB, 0, [scaled("w", 2, 8, 64)])
    assert not plan.ok
    assert plan.replicas == {"w": 2}
    assert plan.required_bytes == 128 * MIB


def test_two_scaled_services_share_in_turn() -> None:
    plan = choose_replicas(400 * MIB, 0, [scaled("a", 1, 10, 100), scaled("b", 1, 10, 50)])
    # a1 b1 = 150; a2 = 250; b2 = 300; a3 = 400; b3 would be 450.
    assert plan.replicas == {"a": 3, "b": 2}
    assert plan.required_bytes == 400 * MIB


def test_choice_line_says_what_one_more_would_need() -> None:
    plan = choose_replicas(300 * MIB, 0, [scaled("w", 1, 8, 64)])
    line = choice_line(plan, plan.choices[0])
    assert "w: 4 replicas (range 1..8), 64.0MiB each" in line
    assert "a 5th would need 320MiB in all, 20.0MiB over the budget" in line


POLICY = AutoscalePolicy(Thresholds(50, 75, 90), calm_seconds=10, min_interval_seconds=5)


def state(replicas: int = 3, low: int = 1, high: int = 4) -> ServiceScaling:
    return ServiceScaling(ScaleRange("w", low, high), 64 * MIB, replicas)


def at(level: ThresholdLevel) -> Pressure:
    return Pressure(level, "w-1 at some%")


def test_critical_scales_down_by_one_but_never_below_min() -> None:
    scaling = state(replicas=2, low=1)
    proposal = propose(scaling, at(ThresholdLevel.CRITICAL), 100.0, POLICY)
    assert proposal is not None and proposal.direction is Direction.DOWN and proposal.to == 1
    assert proposal.reason.startswith("CRITICAL: ")
    changed(scaling, 1, 100.0)
    assert propose(scaling, at(ThresholdLevel.EMERGENCY), 200.0, POLICY) is None


def test_no_second_change_within_the_minimum_interval() -> None:
    scaling = state(replicas=4)
    changed(scaling, 3, 100.0)
    assert propose(scaling, at(ThresholdLevel.CRITICAL), 104.9, POLICY) is None
    proposal = propose(scaling, at(ThresholdLevel.CRITICAL), 105.0, POLICY)
    assert proposal is not None and proposal.to == 2


def test_up_only_after_the_calm_period_at_safe_and_never_above_max() -> None:
    scaling = state(replicas=3, high=4)
    assert propose(scaling, at(ThresholdLevel.SAFE), 0.0, POLICY) is None
    assert propose(scaling, at(ThresholdLevel.SAFE), 9.9, POLICY) is None
    proposal = propose(scaling, at(ThresholdLevel.SAFE), 10.0, POLICY)
    assert proposal is not None and proposal.direction is Direction.UP and proposal.to == 4
    changed(scaling, 4, 10.0)
    for now in (20.0, 40.0, 60.0):
        assert propose(scaling, at(ThresholdLevel.SAFE), now, POLICY) is None


def test_warning_is_the_hysteresis_band_and_restarts_the_calm_period() -> None:
    scaling = state(replicas=2)
    assert propose(scaling, at(ThresholdLevel.SAFE), 0.0, POLICY) is None
    assert propose(scaling, at(ThresholdLevel.WARNING), 8.0, POLICY) is None  # neither way
    assert propose(scaling, at(ThresholdLevel.SAFE), 9.0, POLICY) is None
    assert propose(scaling, at(ThresholdLevel.SAFE), 18.9, POLICY) is None
    proposal = propose(scaling, at(ThresholdLevel.SAFE), 19.0, POLICY)
    assert proposal is not None and proposal.to == 3


def test_a_sawtooth_changes_at_most_once_per_minimum_interval() -> None:
    # Two seconds CRITICAL, two seconds SAFE, sampled every half second for a minute.
    policy = AutoscalePolicy(Thresholds(50, 75, 90), calm_seconds=1, min_interval_seconds=5)
    scaling = state(replicas=4, low=1, high=4)
    changes: list[float] = []
    for tick in range(120):
        now = tick * 0.5
        level = ThresholdLevel.CRITICAL if (now % 4) < 2 else ThresholdLevel.SAFE
        proposal = propose(scaling, at(level), now, policy)
        if proposal is not None:
            changed(scaling, proposal.to, now)
            changes.append(now)
    assert len(changes) >= 2  # it does act
    assert all(later - earlier >= 5 for earlier, later in zip(changes, changes[1:], strict=False))
    assert len(changes) <= 60 // 5 + 1


def load(*containers: tuple[str, float | None, ThresholdLevel], host: float = 10.0) -> StackLoad:
    thresholds = Thresholds()
    return StackLoad(
        host_level=thresholds.level_for(host),
        host_percent=host,
        engine_level=ThresholdLevel.SAFE,
        engine_percent=1.0,
        containers=tuple(
            ContainerLoad(name, name.rsplit("-", 1)[0], 10 * MIB, percent, level)
            for name, percent, level in containers
        ),
    )


def test_service_pressure_is_the_worst_of_host_engine_and_its_own_containers() -> None:
    reading = load(
        ("w-1", 20.0, ThresholdLevel.SAFE),
        ("w-2", 80.0, ThresholdLevel.CRITICAL),
        ("other-1", 95.0, ThresholdLevel.EMERGENCY),
    )
    pressure = service_pressure(reading, "w")
    assert pressure.level is ThresholdLevel.CRITICAL
    assert pressure.cause == "w-2 at 80.0% of its limit"
    assert service_pressure(load(("w-1", 1.0, ThresholdLevel.SAFE), host=80.0), "w").cause == (
        "host memory at 80.0%"
    )


def replica(number: int, created: str) -> ReplicaContainer:
    return ReplicaContainer(f"id{number}", f"p-w-{number}", number, created, "running")


def test_newest_replica_is_the_last_made_and_of_one_batch_the_highest_numbered() -> None:
    batch = [
        replica(1, "2026-01-01T00:00:00.900000000Z"),
        replica(2, "2026-01-01T00:00:00.100000000Z"),
        replica(3, "2026-01-01T00:00:00.500000000Z"),
    ]
    newest = newest_replica(batch)
    assert newest is not None and newest.number == 3
    recreated = [*batch, replica(0, "2026-01-01T00:05:00.000000000Z")]
    newest = newest_replica(recreated)
    assert newest is not None and newest.number == 0
    assert newest_replica([]) is None


def test_replica_lines_are_parsed_with_padded_fractions() -> None:
    stdout = (
        '"abc" "/p-w-2" "2026-01-01T00:00:00.5Z" "running" "2"\n'
        '"def" "/p-w-10" "2026-01-01T00:00:00.123456789Z" "exited" "10"\n'
        "garbage\n"
    )
    parsed = parse_replicas(stdout)
    assert [(r.name, r.number, r.status) for r in parsed] == [
        ("p-w-2", 2, "running"),
        ("p-w-10", 10, "exited"),
    ]
    assert parsed[0].created == "2026-01-01T00:00:00.500000000Z"
    assert parsed[0].created > parsed[1].created


def test_runtime_budget_adds_back_what_the_stack_uses() -> None:
    budget = MemoryBudget(
        host_available_bytes=1000 * MIB, engine_total_bytes=0, engine_in_use_bytes=None,
        margin_bytes=100 * MIB, cap_bytes=5000 * MIB,
    )  # fmt: skip
    assert runtime_budget(budget, 200 * MIB) == 1100 * MIB
    capped = MemoryBudget(1000 * MIB, 0, None, 0, 300 * MIB)
    assert runtime_budget(capped, 200 * MIB) == 300 * MIB


def test_fit_arithmetic_and_document() -> None:
    fit = WorkerFit(per_worker_bytes=512 * MIB, budget_bytes=3000 * MIB, stack_bytes=900 * MIB)
    assert fit.available_bytes == 2100 * MIB
    assert fit.workers == 4
    assert fit_document(fit) == {
        "schema": 1,
        "workers": 4,
        "per_worker_bytes": 512 * MIB,
        "available_bytes": 2100 * MIB,
        "stack_bytes": 900 * MIB,
        "budget_bytes": 3000 * MIB,
    }
    assert WorkerFit(512 * MIB, 100 * MIB, 900 * MIB).workers == 0


def test_scaled_event_document_and_line() -> None:
    event = ScaleEvent(datetime(2026, 1, 1, 12, 0, tzinfo=UTC), "w", 3, 2, "CRITICAL: w-3 at 80%", "p-w-3")
    assert scale_event_document(event) == {
        "type": "scaled",
        "ts": "2026-01-01T12:00:00+00:00",
        "service": "w",
        "from": 3,
        "to": 2,
        "reason": "CRITICAL: w-3 at 80%",
        "removed": "p-w-3",
    }
    assert scale_event_line(event) == "12:00:00 scaled w 3 -> 2: CRITICAL: w-3 at 80% (removed p-w-3)"
