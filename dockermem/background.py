"""Work run beside a block of code, for as long as the block runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio


@asynccontextmanager
async def tasks_beside(*functions: Callable[[], Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """Run the functions in the background while the block runs; cancel them when it ends.

    What the block raises comes out as itself, not wrapped in an exception group by the task
    group around it, so that callers catch their own errors as they expect.
    """
    try:
        async with anyio.create_task_group() as tasks:
            for function in functions:
                tasks.start_soon(function)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
