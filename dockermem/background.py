"""Work run beside a block of code, for as long as the block runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio


@contextmanager
def unwrapped_errors() -> Iterator[None]:
    """What a block in a task group raised comes out as itself, not wrapped in the exception
    group that anyio's task groups raise, so that callers catch their own errors as they expect."""
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


@asynccontextmanager
async def tasks_beside(*functions: Callable[[], Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """Run the functions in the background while the block runs; cancel them when it ends."""
    with unwrapped_errors():
        async with anyio.create_task_group() as tasks:
            for function in functions:
                tasks.start_soon(function)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
