"""The pure parts of scaling: parsing --scale, choosing replica counts, the autoscale policy
(hysteresis, calm period, minimum interval), which replica is the newest, and the renderers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from dockermem.cli.app import app
from dockermem.core.autoscale import ScaleEvent, newest_replica
from dockermem.core.fit import WorkerPlan, WorkerSize
from dockermem.core.preflight import MemoryBudget
from dockermem.core.scaling import ScaledService, ScaleRange, check_unique, choose_replicas, parse_scale
from dockermem.docker.models import ReplicaContainer
from dockermem.docker.parse import parse_replicas
from dockermem.render.fit import fit_document
from dockermem.render.scaling import choice_line, scale_event_line

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
    choice = plan.services[0]
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
    line = choice_line(plan, plan.services[0])
    assert "w: 4 replicas (range 1..8), 64.0MiB each" in line
    assert "a 5th would need 320MiB in all, 20.0MiB over the budget" in line


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
    assert budget.with_stack_running(200 * MIB).available_bytes == 1100 * MIB
    capped = MemoryBudget(1000 * MIB, 0, None, 0, 300 * MIB)
    assert capped.with_stack_running(200 * MIB).available_bytes == 300 * MIB


def test_fit_arithmetic_and_document() -> None:
    fit = WorkerPlan(
        "shop", budget_bytes=3000 * MIB, stack_bytes=900 * MIB, per_worker=WorkerSize(512 * MIB, "given")
    )
    assert fit.available_bytes == 2100 * MIB
    assert fit.workers == 4
    assert fit_document(fit) == {
        "schema": 1,
        "workers": 4,
        "per_worker_bytes": 512 * MIB,
        "per_worker_from": "given",
        "per_worker_recorded_runs": None,
        "available_bytes": 2100 * MIB,
        "stack_bytes": 900 * MIB,
        "budget_bytes": 3000 * MIB,
    }
    assert WorkerPlan("shop", 100 * MIB, 900 * MIB, WorkerSize(512 * MIB, "given")).workers == 0


def test_scaled_event_line() -> None:
    event = ScaleEvent(datetime(2026, 1, 1, 12, 0, tzinfo=UTC), "w", 3, 2, "CRITICAL: w-3 at 80%", "p-w-3")
    assert scale_event_line(event) == "12:00:00 scaled w 3 -> 2: CRITICAL: w-3 at 80% (removed p-w-3)"
