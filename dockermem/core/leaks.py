"""Leak detection: a least-squares slope over a sliding window of samples, with a fit-quality
gate so that noise and sawtooth garbage collection are not called leaks, and a prediction of
when the limit is reached (as Prometheus's `predict_linear` does).

A prediction is only worth something before the event: growth that reaches the limit soon is
flagged as soon as the fit is good; slower growth must hold over a longer span first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class LeakPolicy:
    """When growth counts as a leak."""

    min_points: int = 5
    min_r_squared: float = 0.9
    min_mib_per_minute: float = 1.0
    min_span_seconds: float = 60.0  # slow growth must hold this long before it is called a leak
    urgent_seconds: float = 120.0  # growth that hits the limit sooner than this is flagged at once


@dataclass(frozen=True)
class GrowthFit:
    """A straight line through (seconds, bytes) samples."""

    slope_bytes_per_second: float
    intercept_bytes: float
    r_squared: float
    points: int
    span_seconds: float
    last_time: float

    @property
    def mib_per_minute(self) -> float:
        return self.slope_bytes_per_second * 60 / MIB

    def predicted_at(self, time: float) -> float:
        return self.intercept_bytes + self.slope_bytes_per_second * time

    def seconds_to(self, limit_bytes: int) -> float | None:
        """Seconds from the last sample until the line reaches `limit_bytes` (None if it never does)."""
        if self.slope_bytes_per_second <= 0:
            return None
        remaining = limit_bytes - self.predicted_at(self.last_time)
        return max(0.0, remaining / self.slope_bytes_per_second)


def fit_growth(points: Sequence[tuple[float, float]]) -> GrowthFit | None:
    """Least squares over the samples; None with fewer than two distinct times."""
    count = len(points)
    if count < 2:
        return None
    mean_t = sum(t for t, _ in points) / count
    mean_y = sum(y for _, y in points) / count
    var_t = sum((t - mean_t) ** 2 for t, _ in points)
    if var_t == 0:
        return None
    cov = sum((t - mean_t) * (y - mean_y) for t, y in points)
    slope = cov / var_t
    intercept = mean_y - slope * mean_t
    total = sum((y - mean_y) ** 2 for _, y in points)
    residual = sum((y - (intercept + slope * t)) ** 2 for t, y in points)
    r_squared = 1.0 if total == 0 else max(0.0, 1.0 - residual / total)
    times = [t for t, _ in points]
    return GrowthFit(slope, intercept, r_squared, count, max(times) - min(times), max(times))


def is_leak(fit: GrowthFit, limit_bytes: int | None, policy: LeakPolicy) -> bool:
    """True when the growth is steady (a good fit), large enough, and either urgent or long-held."""
    if fit.points < policy.min_points or fit.r_squared < policy.min_r_squared:
        return False
    if fit.mib_per_minute < policy.min_mib_per_minute:
        return False
    if fit.span_seconds >= policy.min_span_seconds:
        return True
    remaining = None if limit_bytes is None else fit.seconds_to(limit_bytes)
    return remaining is not None and remaining <= policy.urgent_seconds


def describe_leak(name: str, fit: GrowthFit, limit_bytes: int | None) -> str:
    """`api: +12 MiB/min, limit in ~4 min`."""
    text = f"{name}: +{fit.mib_per_minute:.1f} MiB/min"
    remaining = None if limit_bytes is None else fit.seconds_to(limit_bytes)
    if remaining is not None:
        text += f", limit in ~{format_eta(remaining)}"
    return text


def format_eta(seconds: float) -> str:
    """`45 s`, `4 min`, `2.5 h`."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
