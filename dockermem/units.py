"""Byte counts, percentages and names as people read them."""

from __future__ import annotations

import functools
import re

BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(size: int) -> str:
    """A byte count in binary units, three significant digits: `60.2MiB`, `256MiB`, `2.00GiB`."""
    value = float(size)
    for unit in BINARY_UNITS:
        if abs(value) < 1024 or unit == BINARY_UNITS[-1]:
            if unit == "B":
                return f"{int(value)}B"
            digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
            return f"{value:.{digits}f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_percent(percent: float | None) -> str:
    """`25.0%`, or an em dash when there is no figure."""
    return "—" if percent is None else f"{percent:.1f}%"


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration_seconds(text: str) -> float:
    """Seconds from `90s`, `30m`, `2h`, `7d`, `1w` or a plain number of seconds."""
    stripped = text.strip().lower()
    unit = stripped[-1:] if stripped[-1:] in DURATION_UNITS else "s"
    number = stripped[:-1] if stripped[-1:] in DURATION_UNITS else stripped
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration (for example 90s, 30m, 2h, 7d)") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{text!r} is not a duration (for example 90s, 30m, 2h, 7d)")
    return value * DURATION_UNITS[unit]


def plural(count: int, noun: str) -> str:
    """`1 service`, `57 services`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


# A name's sort key: its text and number parts in turn (see name_order).
NameOrder = tuple[tuple[int, str, str], ...]


@functools.lru_cache(maxsize=4096)
def name_order(name: str) -> NameOrder:
    """A sort key for names as people sort them: `api-2` before `api-10`. The runs of ASCII
    digits in a name compare as numbers (by length without leading zeros, then digit by digit:
    no int() of a run however long), `api-01` just before `api-1`; the text between compares
    as text. Kept for the names seen last: `watch` sorts the same rows at every tick."""
    parts = re.split(r"([0-9]+)", name)  # text at even places, digit runs at odd ones
    return tuple(
        (len(part.lstrip("0")), part.lstrip("0"), part) if index % 2 else (-1, part, "")
        for index, part in enumerate(parts)
    )
