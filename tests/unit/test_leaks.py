"""Leak detection on synthetic series: steady growth, noise, sawtooth GC, urgent growth."""

from __future__ import annotations

import math
import random

import pytest

from dockermem.core.leaks import MIB, LeakPolicy, describe_leak, fit_growth, is_leak

POLICY = LeakPolicy()


def series(seconds: float, step: float, value: object) -> list[tuple[float, float]]:
    count = int(seconds / step) + 1
    return [(i * step, value(i * step)) for i in range(count)]  # type: ignore[operator]


def test_steady_growth_slope_is_exact() -> None:
    points = series(120, 1, lambda t: 100 * MIB + 12 * MIB / 60 * t)
    fit = fit_growth(points)
    assert fit is not None
    assert fit.mib_per_minute == pytest.approx(12.0)
    assert fit.r_squared == pytest.approx(1.0)
    assert is_leak(fit, 512 * MIB, POLICY)
    # (512 - 124) / 12
    assert (
        describe_leak("api", fit, 512 * MIB)
        == "api: +12.0 MiB/min over 2 min (121 samples), limit in ~32 min"
    )


def test_noise_is_not_a_leak() -> None:
    rng = random.Random(7)
    points = series(300, 1, lambda t: 200 * MIB + rng.uniform(-5, 5) * MIB)
    fit = fit_growth(points)
    assert fit is not None
    assert not is_leak(fit, 512 * MIB, POLICY)


def test_sawtooth_garbage_collection_is_not_a_leak() -> None:
    # Grows 40 MiB over 30 s, then drops back: a collector at work.
    points = series(300, 1, lambda t: 100 * MIB + (t % 30) / 30 * 40 * MIB)
    fit = fit_growth(points)
    assert fit is not None
    assert not is_leak(fit, 512 * MIB, POLICY)


def test_first_tooth_of_a_slow_sawtooth_is_not_yet_a_leak() -> None:
    points = series(20, 1, lambda t: 100 * MIB + t / 30 * 40 * MIB)
    fit = fit_growth(points)
    assert fit is not None and fit.r_squared > 0.99
    assert not is_leak(fit, 512 * MIB, POLICY)  # 20 s of growth, limit far: wait for more span


def test_urgent_growth_is_flagged_as_soon_as_the_fit_is_good() -> None:
    # 100 MiB/s into 512 MiB: five samples at 10 Hz are enough.
    points = series(0.4, 0.1, lambda t: 50 * MIB + 100 * MIB * t)
    fit = fit_growth(points)
    assert fit is not None and fit.points == 5
    assert is_leak(fit, 512 * MIB, POLICY)
    remaining = fit.seconds_to(512 * MIB)
    assert remaining is not None and math.isclose(remaining, (512 - 90) / 100, rel_tol=1e-6)


def test_shrinking_or_flat_memory_never_predicts_a_limit() -> None:
    fit = fit_growth(series(100, 1, lambda t: 300 * MIB - MIB * t))
    assert fit is not None and fit.seconds_to(512 * MIB) is None
    assert fit_growth([(1.0, 5.0)]) is None
    assert fit_growth([(1.0, 5.0), (1.0, 6.0)]) is None


def test_sliding_fit_agrees_with_the_full_fit_as_the_window_slides() -> None:
    from dockermem.core.leaks import SlidingFit

    rng = random.Random(3)
    window = 60.0
    sliding = SlidingFit(window, max_points=10_000)
    points: list[tuple[float, float]] = []
    for step in range(600):
        t = 1_000_000.0 + step * 0.5  # monotonic clocks are large numbers
        y = 300 * MIB + 2 * MIB * step / 60 + rng.uniform(-1, 1) * MIB
        sliding.add(t, y)
        points.append((t, y))
        kept = [(pt, py) for pt, py in points if pt >= t - window]
        if step % 37 == 0 and len(kept) > 2:
            expected, got = fit_growth(kept), sliding.fit()
            assert expected is not None and got is not None
            assert got.points == expected.points
            assert got.slope_bytes_per_second == pytest.approx(expected.slope_bytes_per_second, rel=1e-6)
            assert got.r_squared == pytest.approx(expected.r_squared, abs=1e-6)
            assert got.seconds_to(1024 * MIB) == pytest.approx(expected.seconds_to(1024 * MIB), rel=1e-6)


def test_peak_buckets_keep_each_spans_highest_value() -> None:
    from dockermem.core.leaks import PeakBuckets

    buckets = PeakBuckets(span_seconds=10, buckets=5)  # 2 s each
    for t, value in [(0.0, 5), (1.0, 9), (2.5, 3), (3.9, 4), (4.0, 1), (13.0, 7)]:
        buckets.add(t, value)
    assert buckets.peaks() == (9, 4, 1, 7)
    for t in range(20, 40):
        buckets.add(float(t), t)
    assert len(buckets.peaks()) == 5 and buckets.peaks()[-1] == 39
