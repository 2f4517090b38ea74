"""Colours of the threshold levels, and the number formats every renderer uses."""

from __future__ import annotations

from dockermem.core.thresholds import ThresholdLevel
from dockermem.units import format_bytes, format_percent

__all__ = ["format_bytes", "format_percent", "style_for"]

LEVEL_STYLES = {
    ThresholdLevel.SAFE: "green",
    ThresholdLevel.WARNING: "yellow",
    ThresholdLevel.CRITICAL: "red",
    ThresholdLevel.EMERGENCY: "bold white on red",
}


def style_for(level: ThresholdLevel) -> str:
    """The Rich style of a threshold level."""
    return LEVEL_STYLES[level]
