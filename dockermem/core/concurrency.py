"""Small typed helpers for running core work side by side."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")


class Slot(Generic[T]):
    """Holds the result of a task started in a task group, typed, for after the group ends."""

    _value: T

    async def fill(self, produce: Callable[[], Awaitable[T]]) -> None:
        self._value = await produce()

    @property
    def value(self) -> T:
        return self._value


async def cancel_on_signals(scope: anyio.CancelScope, record: Callable[[int], object]) -> None:
    """On Ctrl-C or SIGTERM: note which, and cancel the scope (the caller then reports and exits)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signal_number in signals:
            record(signal_number)
            scope.cancel()
            return
