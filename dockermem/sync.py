"""The Python API for plain (synchronous) scripts: the async API run in a background thread.

with dockermem.sync.stack("compose/test.yaml") as stack:
    print(stack.health_report())
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from dockermem import api
from dockermem.config import Settings
from dockermem.core.client import client_for
from dockermem.core.events import Event, Frame, SessionSummary
from dockermem.core.snapshot import ResourceSnapshot, take_snapshot
from dockermem.docker.models import ComposeContainer


class SyncStack:
    """A running stack, for synchronous code. The session runs in the portal's thread: what it
    keeps is read there too (`portal.call`), never from this one while it changes."""

    def __init__(self, stack: api.Stack, portal: BlockingPortal) -> None:
        self.stack = stack
        self._portal = portal

    @property
    def project(self) -> str:
        return self.stack.project

    @property
    def latest_frame(self) -> Frame | None:
        return self._portal.call(lambda: self.stack.latest_frame)

    @property
    def summary(self) -> SessionSummary:
        """The session so far: each container's peak, and whether memory ran out."""
        return self._portal.call(lambda: self.stack.session.summary)

    def snapshot(self) -> ResourceSnapshot:
        return self._portal.call(self.stack.snapshot)

    def services(self) -> list[ComposeContainer]:
        return self._portal.call(self.stack.services)

    def health_report(self, width: int = 100) -> str:
        return self._portal.call(self.stack.health_report, width)

    def statistics(self) -> dict[str, Any]:
        return self._portal.call(self.stack.statistics)

    def events(self) -> list[Event]:
        """The events seen so far (the latest few hundred)."""
        return self._portal.call(lambda: list(self.stack.seen_events))


@contextmanager
def stack(*files: str | Path, **options: Any) -> Iterator[SyncStack]:
    """`dockermem.api.stack`, for synchronous code (same options)."""
    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(api.stack(*files, **options)) as running:
            yield SyncStack(running, portal)


class AttachedStack:
    """A stack another process started and watches (the pytest-xdist controller), for a
    process that runs beside it (a worker): its project and the calls that read it. The events
    and the summary are the watching process's."""

    def __init__(self, files: Sequence[str | Path], project: str, settings: Settings) -> None:
        self.files = tuple(Path(file) for file in files)
        self.project = project
        self.settings = settings
        self._client = client_for(settings)

    def snapshot(self) -> ResourceSnapshot:
        return anyio.run(lambda: take_snapshot(self._client, self.settings, self.project))

    def services(self) -> list[ComposeContainer]:
        return anyio.run(lambda: self._client.compose.ps(self.files, self.project))

    def health_report(self, width: int = 100) -> str:
        from dockermem.render.styles import rendered
        from dockermem.render.tables import build_health_report

        return rendered(build_health_report(self.snapshot()), width)

    def statistics(self) -> dict[str, Any]:
        from dockermem.core.counters import read_counters
        from dockermem.render.documents import stats_document

        counters = read_counters(self.settings.state_path)
        return stats_document(self.snapshot(), counters, self.settings.high_memory_percent)

    def events(self) -> list[Event]:
        """Nothing here: the process that started the stack watches it and ties its events to
        the tests."""
        return []
