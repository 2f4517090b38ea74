"""Colours of the threshold levels, the number formats every renderer uses, and a renderable
as plain text."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType

from dockermem.core.thresholds import ThresholdLevel
from dockermem.units import format_bytes, format_percent

__all__ = ["format_bytes", "format_percent", "rendered", "style_for"]

LEVEL_STYLES = {
    ThresholdLevel.SAFE: "green",
    ThresholdLevel.WARNING: "yellow",
    ThresholdLevel.CRITICAL: "red",
    ThresholdLevel.EMERGENCY: "bold white on red",
}


def style_for(level: ThresholdLevel) -> str:
    """The Rich style of a threshold level."""
    return LEVEL_STYLES[level]


def rendered(renderable: RenderableType, width: int = 100) -> str:
    """A renderable as plain text at a width, as a terminal without colour would show it."""
    console = Console(record=True, width=width, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
