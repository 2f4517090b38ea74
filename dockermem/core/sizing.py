"""Right-sizing advice from a service's history: what to do with its memory limit, and when no
limit should be advised at all.

A peak is only worth sizing a limit from when memory had stopped climbing. A service whose
memory still grew at the end of its run (or that `watch` called a leak) gets "fix the leak",
never a bigger limit: any limit taken from a climbing peak is reached later. A percentile of
few samples is the peak under another name, so below `MIN_PERCENTILE_SAMPLES` it is not given.
Never prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from dockermem.core.leaks import GrowthFit, fit_growth
from dockermem.units import format_bytes

if TYPE_CHECKING:
    from dockermem.core.history import ServiceHistory

# Below this many samples p95 is not reported: with 19 samples the nearest-rank p95 is the peak.
MIN_PERCENTILE_SAMPLES = 20
LOWER_WHEN_LIMIT_OVER_PEAK = 2.0
# The share of a run's span, at its end, that is fitted to tell whether memory was still climbing.
CLIMB_TAIL_SHARE = 1 / 3


@dataclass(frozen=True)
class ClimbPolicy:
    """When memory at the end of a run counts as still climbing: a straight fit over the run's
    last third with enough points, a good fit and a slope that means something."""

    min_points: int = 5
    min_r_squared: float = 0.8
    min_mib_per_minute: float = 1.0


@dataclass(frozen=True)
class Leak:
    """Growth that makes a peak useless for sizing: the rate, and whether `watch` itself called it
    a leak during the run (else the history's last samples showed it still climbing)."""

    mib_per_minute: float
    seen_by_watch: bool

    @property
    def source(self) -> str:
        return "seen by watch" if self.seen_by_watch else "still climbing at the end of the run"


class AdviceKind(Enum):
    """What to do with a limit."""

    RAISE = "raise"
    SET = "set"
    LOWER = "lower"
    FITS = "fits"
    LEAK = "leak"
    NONE = "none"


@dataclass(frozen=True)
class Advice:
    """The advice for one service: a short form for a table cell and the full sentence."""

    kind: AdviceKind
    short: str
    detail: str


def climbing_at_end(
    points: Sequence[tuple[float, float]], policy: ClimbPolicy | None = None
) -> GrowthFit | None:
    """The fit over the last third (by time) of one run's (seconds, bytes) samples when memory
    was still climbing there, else None."""
    policy = policy or ClimbPolicy()
    if len(points) < policy.min_points:
        return None
    ordered = sorted(points)
    start = ordered[-1][0] - (ordered[-1][0] - ordered[0][0]) * CLIMB_TAIL_SHARE
    tail = [point for point in ordered if point[0] >= start]
    if len(tail) < policy.min_points:
        tail = ordered[-policy.min_points :]
    fit = fit_growth(tail)
    if fit is None or fit.r_squared < policy.min_r_squared or fit.mib_per_minute < policy.min_mib_per_minute:
        return None
    return fit


def percentile_text(samples: int) -> str | None:
    """Why a percentile is not given (`too few samples (18 < 20)`), or None when it is."""
    if samples >= MIN_PERCENTILE_SAMPLES:
        return None
    return f"too few samples ({samples} < {MIN_PERCENTILE_SAMPLES})"


def advise(service: ServiceHistory) -> Advice:
    """What to do with a service's limit: fix a leak, raise, set, lower, or keep it."""
    limit, peak, recommended = service.memory_limit_bytes, service.peak_bytes, service.recommended_limit_bytes
    if service.leak is not None:
        rate = f"+{service.leak.mib_per_minute:.1f} MiB/min"
        detail = f"leak: {rate} {service.leak.source}; fix the leak, no limit advised"
        if service.oom_kills:
            detail = f"OOM-killed {service.oom_kills}×; " + detail
        return Advice(AdviceKind.LEAK, "fix the leak", detail)
    if recommended is None or service.samples == 0:
        text = f"OOM-killed {service.oom_kills}× but no samples: nothing to size"
        return Advice(AdviceKind.NONE, "nothing to size", text)
    advice = format_bytes(recommended)
    if limit is None:
        return Advice(AdviceKind.SET, f"set {advice}", f"no limit: set {advice}")
    if service.oom_kills > service.host_oom_kills:
        detail = f"OOM-killed {service.oom_kills}× at {format_bytes(limit)}: raise to {advice}"
        return Advice(AdviceKind.RAISE, f"raise to {advice}", detail)
    if recommended > limit:
        detail = f"peak reached {100 * peak / limit:.0f}% of the limit: raise to {advice}"
        return Advice(AdviceKind.RAISE, f"raise to {advice}", detail)
    if recommended < limit and limit >= LOWER_WHEN_LIMIT_OVER_PEAK * peak:
        ratio = "no use seen" if peak == 0 else f"{limit / peak:.1f}× the peak"
        detail = f"limit {format_bytes(limit)} is {ratio}: lower to {advice}"
        return Advice(AdviceKind.LOWER, f"lower to {advice}", detail)
    return Advice(AdviceKind.FITS, "fits", f"fits: peak is {100 * peak / limit:.0f}% of the limit")
