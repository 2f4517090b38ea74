"""Leak-aware right-sizing on a recorded 90 s watch run (a service growing 1 MiB/s to the end and
one holding still): no limit is advised from a peak that was still climbing, whether watch
called the leak or only the last samples show it, and p95 of 18 samples is not given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dockermem.clock import ManualClock
from dockermem.core.history import HistoryStore, ServiceHistory
from dockermem.core.sizing import (
    MIN_PERCENTILE_SAMPLES,
    AdviceKind,
    Leak,
    advise,
    climbing_at_end,
    percentile_text,
)
from tests.recorded import record_history

MIB = 1024**2
START = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def report(tmp_path: Path, with_leaks: bool) -> dict[str, ServiceHistory]:
    clock = ManualClock(START)
    with HistoryStore(tmp_path / "history.sqlite3", min_interval_seconds=0, clock=clock) as store:
        record_history(store, "watch-90s-leak", "shop", clock, with_leaks=with_leaks)
        return {row.service: row for row in store.service_report(START - timedelta(hours=1))}


def test_a_leak_watch_called_gets_fix_the_leak_and_no_limit(tmp_path: Path) -> None:
    services = report(tmp_path, with_leaks=True)
    leaky = services["leaky"]
    assert leaky.leak == Leak(pytest.approx(59.557), seen_by_watch=True)  # type: ignore[arg-type]
    assert leaky.recommended_limit_bytes is None
    advice = advise(leaky)
    assert advice.kind is AdviceKind.LEAK
    assert advice.detail == "leak: +59.6 MiB/min seen by watch; fix the leak, no limit advised"
    assert "raise" not in advice.detail and "lower" not in advice.detail
    assert advice.short == "fix the leak"


def test_memory_still_climbing_at_the_end_is_a_leak_without_watch_saying_so(tmp_path: Path) -> None:
    leaky = report(tmp_path, with_leaks=False)["leaky"]
    assert leaky.leak is not None and not leaky.leak.seen_by_watch
    assert leaky.leak.mib_per_minute == pytest.approx(60, rel=0.15)  # memhog grew 1 MiB/s
    assert leaky.recommended_limit_bytes is None
    detail = advise(leaky).detail
    assert detail.startswith("leak: +") and "still climbing at the end of the run" in detail
    assert detail.endswith("fix the leak, no limit advised")


def test_memory_holding_still_is_sized_as_before(tmp_path: Path) -> None:
    steady = report(tmp_path, with_leaks=True)["steady"]
    assert steady.leak is None
    assert steady.memory_limit_bytes == 128 * MIB
    assert steady.recommended_limit_bytes == 64 * MIB  # a 40 MiB peak plus 30 %, rounded up
    assert advise(steady).kind is AdviceKind.LOWER


def test_eighteen_samples_are_too_few_for_p95(tmp_path: Path) -> None:
    steady = report(tmp_path, with_leaks=True)["steady"]
    assert steady.samples == 18 and not steady.p95_known
    assert percentile_text(steady.samples) == f"too few samples (18 < {MIN_PERCENTILE_SAMPLES})"
    assert percentile_text(MIN_PERCENTILE_SAMPLES) is None


def test_growth_that_levelled_off_before_the_end_is_not_climbing() -> None:
    rising_then_flat = [(float(t), float((20 + min(t, 40)) * MIB)) for t in range(0, 91, 5)]
    assert climbing_at_end(rising_then_flat) is None
    rising = [(float(t), float((20 + t) * MIB)) for t in range(0, 91, 5)]
    fit = climbing_at_end(rising)
    assert fit is not None and fit.mib_per_minute == pytest.approx(60)
    sawtooth = [(float(t), float((40 + (t % 20)) * MIB)) for t in range(0, 91, 5)]
    assert climbing_at_end(sawtooth) is None
    assert climbing_at_end(rising[:4]) is None  # too few points to judge


def test_an_oom_killed_leak_says_both_and_still_advises_no_limit() -> None:
    killed = ServiceHistory(
        "shop", "api", 1, 40, 64 * MIB, 60 * MIB, 64 * MIB, 2, None, leak=Leak(12.0, True)
    )
    advice = advise(killed)
    assert advice.kind is AdviceKind.LEAK
    assert advice.detail == "OOM-killed 2×; leak: +12.0 MiB/min seen by watch; fix the leak, no limit advised"
