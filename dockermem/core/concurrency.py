"""Small typed helpers for running core work side by side, and for ending it early."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import anyio

from dockermem.background import tasks_beside
from dockermem.errors import RunInterrupted

T = TypeVar("T")


class Slot(Generic[T]):
    """Holds the result of a task started in a task group, typed, for after the group ends."""

    _value: T

    async def fill(self, produce: Callable[[], Awaitable[T]]) -> None:
        self._value = await produce()

    @property
    def value(self) -> T:
        return self._value


class Stop:
    """A request to end a run before its time, and why: a signal that the caller listens for
    (the CLI does, for Ctrl-C and SIGTERM; `listening_for_signals`), or code that calls
    `request()`. The Python API never installs a signal handler: its caller decides."""

    def __init__(self) -> None:
        self.signal_number: int | None = None
        self.requested = False
        self._event: anyio.Event | None = None

    def request(self, signal_number: int | None = None) -> None:
        """End the run (the signal that asked, if one did)."""
        if not self.requested:
            self.requested = True
            self.signal_number = signal_number
            if self._event is not None:
                self._event.set()

    async def wait(self) -> None:
        """Until the run is asked to end."""
        if self.requested:
            return
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()

    async def until_requested(self, work: Callable[[], Awaitable[T]]) -> T | None:
        """`work`'s result, or None when the stop came first (`work` is then cancelled)."""
        result: list[T] = []
        scope = anyio.CancelScope()

        async def stop_work() -> None:
            await self.wait()
            scope.cancel()

        async with tasks_beside(stop_work):
            with scope:
                result.append(await work())
        return result[0] if result else None


@asynccontextmanager
async def listening_for_signals(stop: Stop) -> AsyncIterator[Stop]:
    """While the block runs, Ctrl-C (SIGINT) or SIGTERM asks `stop` to end the run (which then
    says how it left things); a second one ends it at once (`RunInterrupted`)."""

    async def listen() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signal_number in signals:
                if stop.requested:
                    raise RunInterrupted(signal_number)
                stop.request(signal_number)

    async with tasks_beside(listen):
        yield stop
