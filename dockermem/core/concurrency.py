"""Small typed helpers for running core work side by side."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Slot(Generic[T]):
    """Holds the result of a task started in a task group, typed, for after the group ends."""

    _value: T

    async def fill(self, produce: Callable[[], Awaitable[T]]) -> None:
        self._value = await produce()

    @property
    def value(self) -> T:
        return self._value
