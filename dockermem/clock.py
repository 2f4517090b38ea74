"""The clock: wall time for what is stamped and later compared with stored times (history runs,
cache entries, `--since`, `--older-than`), monotonic time for intervals (leak windows, calm
periods, timeouts).

Code that stamps or compares a time takes a `Clock` (by default `current_clock()`, the system's),
so that a test sets the time it asserts on instead of reading the real one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar


class Clock(Protocol):
    """Where the time comes from."""

    def now(self) -> datetime:
        """The wall time, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals only)."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that stands still until it is moved: for replaying recorded outputs and for tests."""

    def __init__(self, start: datetime, monotonic_start: float = 1000.0) -> None:
        if start.tzinfo is None:
            raise ValueError("a ManualClock starts at a timezone-aware time")
        self._now = start
        self._monotonic = monotonic_start

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        if seconds < 0:
            raise ValueError("a clock is moved forward only")
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds


AnyClock = TypeVar("AnyClock", bound=Clock)

SYSTEM_CLOCK = SystemClock()
_current: ContextVar[Clock] = ContextVar("dockermem_clock", default=SYSTEM_CLOCK)


def current_clock() -> Clock:
    """The clock in force: the system's, unless a caller set another with `using_clock`."""
    return _current.get()


@contextmanager
def using_clock(clock: AnyClock) -> Iterator[AnyClock]:
    """Run a block (and the tasks it starts) on another clock."""
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)
