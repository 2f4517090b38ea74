"""Leak detection: a least-squares slope over a sliding window of samples, with a fit-quality
gate so that noise and sawtooth garbage collection are not called leaks, and a prediction of
when the limit is reached (as Prometheus's `predict_linear` does).

A prediction is only worth something before the event: growth that reaches the limit soon is
flagged as soon as the fit is good; slower growth must hold over a longer span first.
"""

from __future__ import annotations

from collections import deque
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
    """`api: +12.0 MiB/min over 64 s (33 samples), limit in ~4 min`: the rate, what it rests on,
    and when the limit is reached at that rate."""
    evidence = f"over {format_eta(fit.span_seconds)} ({fit.points} samples)"
    text = f"{name}: +{fit.mib_per_minute:.1f} MiB/min {evidence}"
    remaining = None if limit_bytes is None else fit.seconds_to(limit_bytes)
    if remaining is not None:
        text += f", limit in ~{format_eta(remaining)}"
    return text


# Below this span of samples a growth rate is not shown: two seconds of a starting service say
# nothing of its course.
MIN_TREND_SECONDS = 10.0
# "Is it still growing?" is asked of the last this many seconds (the leak window is minutes long,
# and a fit over it keeps a slope for minutes after the growth stopped).
RECENT_GROWTH_SECONDS = 20.0
# A fall from the highest point since the last fall by this much (or this share of that point,
# whichever is larger) is a drop: memory was given back, so the growth was a cycle.
DROP_MIB = 4.0
DROP_FRACTION = 0.05


def shown_trend(fit: GrowthFit | None, policy: LeakPolicy) -> float | None:
    """The growth rate a view shows (MiB/min): None until the samples span `MIN_TREND_SECONDS`,
    0.0 below the rate a leak must reach (noise of a flat container is not a trend)."""
    if fit is None or fit.span_seconds < MIN_TREND_SECONDS or fit.points < policy.min_points:
        return None
    rate = fit.mib_per_minute
    return 0.0 if abs(rate) < policy.min_mib_per_minute else round(rate, 2)


class DropWatch:
    """When memory last fell: the time of the last drop (`DROP_MIB`, `DROP_FRACTION`) from the
    highest size since the drop before."""

    def __init__(self) -> None:
        self.highest_bytes = 0
        self.last_drop: tuple[float, int] | None = None  # (time, bytes given back)

    def add(self, time: float, size_bytes: int) -> bool:
        """Take a sample; True when it is a drop."""
        fell = self.highest_bytes - size_bytes
        if fell >= max(DROP_MIB * MIB, DROP_FRACTION * self.highest_bytes):
            self.last_drop = (time, fell)
            self.highest_bytes = size_bytes
            return True
        self.highest_bytes = max(self.highest_bytes, size_bytes)
        return False

    def dropped_within(self, now: float, seconds: float) -> bool:
        return self.last_drop is not None and now - self.last_drop[0] <= seconds


def format_eta(seconds: float) -> str:
    """`45 s`, `4 min`, `2.5 h`."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class SlidingFit:
    """The least-squares fit over a sliding time window, kept as running sums: each sample
    costs the same however long the window (a watch over hundreds of containers at 10 Hz).

    Times are taken from the first sample and sizes in MiB, so that the sums stay far from
    float64's limits; they are summed afresh now and then so that rounding cannot drift.
    """

    RESUM_EVERY = 1000

    def __init__(self, window_seconds: float, max_points: int) -> None:
        self.window_seconds = window_seconds
        # Two deques of floats rather than one of tuples: half the memory per sample.
        self.times: deque[float] = deque(maxlen=max_points)
        self.sizes: deque[float] = deque(maxlen=max_points)
        self._origin: float | None = None
        self._sums = [0.0, 0.0, 0.0, 0.0, 0.0]  # t, y, tt, ty, yy
        self._updates = 0

    def add(self, time: float, size_bytes: float) -> None:
        if self._origin is None:
            self._origin = time
        if len(self.times) == self.times.maxlen:
            self._drop_oldest()
        point = (time - self._origin, size_bytes / MIB)
        self.times.append(point[0])
        self.sizes.append(point[1])
        self._add(point, 1.0)
        while self.times and self.times[0] < point[0] - self.window_seconds:
            self._drop_oldest()
        self._updates += 1
        if self._updates % self.RESUM_EVERY == 0:
            self._sums = [0.0, 0.0, 0.0, 0.0, 0.0]
            for kept in zip(self.times, self.sizes, strict=True):
                self._add(kept, 1.0)

    def _drop_oldest(self) -> None:
        self._add((self.times.popleft(), self.sizes.popleft()), -1.0)

    def _add(self, point: tuple[float, float], sign: float) -> None:
        t, y = point
        sums = self._sums
        sums[0] += sign * t
        sums[1] += sign * y
        sums[2] += sign * t * t
        sums[3] += sign * t * y
        sums[4] += sign * y * y

    def fit(self) -> GrowthFit | None:
        """The line through the window's samples, in bytes and seconds (as `fit_growth`)."""
        count = len(self.times)
        if count < 2 or self._origin is None:
            return None
        st, sy, stt, sty, syy = self._sums
        var_t = stt - st * st / count
        if var_t <= 1e-12:
            return None
        cov = sty - st * sy / count
        total = syy - sy * sy / count
        slope = cov / var_t  # MiB per second
        residual = max(0.0, total - slope * cov)
        r_squared = 1.0 if total <= 1e-12 else max(0.0, 1.0 - residual / total)
        intercept = (sy - slope * st) / count  # MiB at the origin
        first, last = self.times[0], self.times[-1]
        return GrowthFit(
            slope_bytes_per_second=slope * MIB,
            intercept_bytes=(intercept - slope * self._origin) * MIB,
            r_squared=r_squared,
            points=count,
            span_seconds=last - first,
            last_time=last + self._origin,
        )


class PeakBuckets:
    """The highest size in each of a few equal spans of the recent past: what a sparkline draws,
    kept in constant memory and time."""

    def __init__(self, span_seconds: float, buckets: int) -> None:
        self.width = span_seconds / buckets
        self.values: deque[tuple[int, int]] = deque(maxlen=buckets)  # (bucket number, peak)

    def add(self, time: float, size_bytes: int) -> None:
        number = int(time // self.width)
        if self.values and self.values[-1][0] == number:
            if size_bytes > self.values[-1][1]:
                self.values[-1] = (number, size_bytes)
        else:
            self.values.append((number, size_bytes))

    def peaks(self) -> tuple[int, ...]:
        return tuple(peak for _, peak in self.values)
