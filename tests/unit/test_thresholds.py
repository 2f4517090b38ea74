from __future__ import annotations

import pytest

from dockermem.core.thresholds import ThresholdLevel, Thresholds, worst_level


@pytest.mark.parametrize(
    ("percent", "level"),
    [
        (0.0, ThresholdLevel.SAFE),
        (49.99, ThresholdLevel.SAFE),
        (50.0, ThresholdLevel.WARNING),
        (74.9, ThresholdLevel.WARNING),
        (75.0, ThresholdLevel.CRITICAL),
        (89.99, ThresholdLevel.CRITICAL),
        (90.0, ThresholdLevel.EMERGENCY),
        (150.0, ThresholdLevel.EMERGENCY),
    ],
)
def test_default_levels(percent: float, level: ThresholdLevel) -> None:
    assert Thresholds().level_for(percent) is level


def test_levels_are_ordered_and_marked() -> None:
    assert ThresholdLevel.SAFE < ThresholdLevel.WARNING < ThresholdLevel.CRITICAL < ThresholdLevel.EMERGENCY
    assert [level.marker for level in ThresholdLevel] == ["✅", "⚠️", "❌", "🚨"]
    assert worst_level([ThresholdLevel.WARNING, ThresholdLevel.SAFE]) is ThresholdLevel.WARNING
    assert worst_level([]) is ThresholdLevel.SAFE


def test_custom_thresholds() -> None:
    thresholds = Thresholds(warning=10, critical=20, emergency=30)
    assert thresholds.level_for(25) is ThresholdLevel.CRITICAL
