"""Threshold levels: SAFE, WARNING, CRITICAL and EMERGENCY, with their markers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from dockermem.config import Settings


class ThresholdLevel(Enum):
    """How close a figure is to its maximum. Ordered: SAFE < WARNING < CRITICAL < EMERGENCY."""

    SAFE = "safe"
    WARNING = "warning"
    CRITICAL = "critical"
    EMERGENCY = "emergency"

    @property
    def rank(self) -> int:
        return LEVEL_ORDER.index(self)

    @property
    def marker(self) -> str:
        return MARKERS[self]

    def __ge__(self, other: ThresholdLevel) -> bool:
        return self.rank >= other.rank

    def __gt__(self, other: ThresholdLevel) -> bool:
        return self.rank > other.rank

    def __le__(self, other: ThresholdLevel) -> bool:
        return self.rank <= other.rank

    def __lt__(self, other: ThresholdLevel) -> bool:
        return self.rank < other.rank


LEVEL_ORDER = (
    ThresholdLevel.SAFE,
    ThresholdLevel.WARNING,
    ThresholdLevel.CRITICAL,
    ThresholdLevel.EMERGENCY,
)
MARKERS = {
    ThresholdLevel.SAFE: "✅",
    ThresholdLevel.WARNING: "⚠️",
    ThresholdLevel.CRITICAL: "❌",
    ThresholdLevel.EMERGENCY: "🚨",
}


@dataclass(frozen=True)
class Thresholds:
    """The percentages at which each level begins (defaults: 50, 75, 90)."""

    warning: float = 50.0
    critical: float = 75.0
    emergency: float = 90.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(settings.warning_percent, settings.critical_percent, settings.emergency_percent)

    def legend(self, high_memory_percent: float) -> str:
        """What the levels mean, with their numbers, and the per-container warning beside them:
        one vocabulary wherever a verdict appears."""
        return (
            f"Levels of a figure against its maximum: {MARKERS[ThresholdLevel.SAFE]} SAFE below "
            f"{self.warning:g}%, {MARKERS[ThresholdLevel.WARNING]} WARNING from {self.warning:g}%, "
            f"{MARKERS[ThresholdLevel.CRITICAL]} CRITICAL from {self.critical:g}%, "
            f"{MARKERS[ThresholdLevel.EMERGENCY]} EMERGENCY from {self.emergency:g}%. A container's "
            f"warning event comes at {high_memory_percent:g}% of its limit."
        )

    def short_legend(self, high_memory_percent: float) -> str:
        """The legend in a line: `levels of the limit: WARN 50% CRIT 75% EMER 90%; warning event at 80%`."""
        return (
            f"levels of the limit: WARN {self.warning:g}% CRIT {self.critical:g}% EMER {self.emergency:g}%; "
            f"warning event at {high_memory_percent:g}%"
        )

    def level_for(self, percent: float) -> ThresholdLevel:
        """The level of a percentage of some maximum."""
        if percent >= self.emergency:
            return ThresholdLevel.EMERGENCY
        if percent >= self.critical:
            return ThresholdLevel.CRITICAL
        if percent >= self.warning:
            return ThresholdLevel.WARNING
        return ThresholdLevel.SAFE


def worst_level(levels: list[ThresholdLevel]) -> ThresholdLevel:
    """The highest of some levels (SAFE when there are none)."""
    return max(levels, key=lambda level: level.rank, default=ThresholdLevel.SAFE)
