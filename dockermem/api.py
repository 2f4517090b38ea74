"""dockermem's Python API: memory safety inside a test suite, on the same core as the CLI.

    async with dockermem.stack("compose/test.yaml", profile="standard") as stack:
        snapshot = await stack.snapshot()
        print(stack.health_report())
        async for event in stack.events():   # warnings, OOM kills, leaks as they happen
            ...

`stack()` runs the preflight, brings the stack up with the monitor beside compose, keeps
watching it while the block runs, and brings it down afterwards (a dedicated environment) or
leaves it up (a shared one). `dockermem.sync.stack()` is the same for plain scripts.
Errors are the typed errors the CLI maps to exit codes (`dockermem.errors`).
"""

from __future__ import annotations

import io
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from dockermem.background import tasks_beside
from dockermem.config import Settings, load_settings
from dockermem.core.client import client_for
from dockermem.core.counters import read_counters
from dockermem.core.lifecycle import StartOutcome, StartRequest, start_stack
from dockermem.core.monitor import MonitorUpdate
from dockermem.core.preflight import PreflightResult
from dockermem.core.snapshot import ResourceSnapshot, take_snapshot
from dockermem.core.watch import Watcher, WatchEvent, WatchFrame
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ComposeContainer
from dockermem.errors import DockermemError, ExitCode

Environment = Literal["dedicated", "shared"]
MAX_KEPT_EVENTS = 1000


class PreflightFailedError(DockermemError):
    """The stack does not fit: it was not started. `result` holds the figures and advice."""

    exit_code = ExitCode.CHECK_FAILED

    def __init__(self, result: PreflightResult) -> None:
        advice = " ".join(result.recommendations)
        super().__init__(f"preflight FAIL for {result.project}: {advice}".strip())
        self.result = result


class StackStartError(DockermemError):
    """The stack did not start; `outcome` holds the analysis (services, OOM kills, memory)."""

    exit_code = ExitCode.CHECK_FAILED

    def __init__(self, outcome: StartOutcome) -> None:
        failed = ", ".join(
            f"{s.service} ({s.state}, {s.health or 'no health check'})" for s in outcome.failed_services
        )
        detail = (
            outcome.memory_verdict or outcome.compose_message or outcome.engine_error or "see the analysis"
        )
        super().__init__(f"{outcome.project} did not start: {failed or 'compose failed'}. {detail}")
        self.outcome = outcome


@dataclass
class Stack:
    """A running stack and what dockermem sees of it."""

    project: str
    files: tuple[Path, ...]
    environment: Environment
    settings: Settings
    client: DockerClient
    outcome: StartOutcome
    latest_snapshot: ResourceSnapshot | None = None
    latest_frame: WatchFrame | None = None
    seen_events: deque[WatchEvent] = field(default_factory=lambda: deque(maxlen=MAX_KEPT_EVENTS))
    _subscribers: list[MemoryObjectSendStream[WatchEvent]] = field(default_factory=list)
    _frame_listeners: list[Callable[[WatchFrame], None]] = field(default_factory=list)
    _event_listeners: list[Callable[[WatchEvent], None]] = field(default_factory=list)

    async def snapshot(self) -> ResourceSnapshot:
        """A fresh snapshot of the stack's containers, host and engine."""
        self.latest_snapshot = await take_snapshot(self.client, self.settings, self.project)
        return self.latest_snapshot

    async def services(self) -> list[ComposeContainer]:
        """The stack's containers as compose lists them: service, state, health, exit code."""
        return await self.client.compose.ps(self.files, self.project)

    def health_report(self, width: int = 100) -> str:
        """The health report (as `dockermem health` prints it) of the latest snapshot."""
        from rich.console import Console

        from dockermem.render.tables import build_health_report

        snapshot = self._latest()
        console = Console(record=True, width=width, color_system=None, file=io.StringIO())
        console.print(build_health_report(snapshot))
        return console.export_text()

    def statistics(self) -> dict[str, Any]:
        """The statistics (as `dockermem stats --json` gives them) of the latest snapshot."""
        from dockermem.render.documents import stats_document

        counters = read_counters(self.settings.state_path)
        return stats_document(self._latest(), counters, self.settings.high_memory_percent)

    async def events(self) -> AsyncIterator[WatchEvent]:
        """Warnings, OOM kills, leaks and the rest as they happen, from now on."""
        send, receive = anyio.create_memory_object_stream[WatchEvent](MAX_KEPT_EVENTS)
        self._subscribers.append(send)
        try:
            async with receive:
                async for event in receive:
                    yield event
        finally:
            self._subscribers.remove(send)
            send.close()

    def on_event(self, listener: Callable[[WatchEvent], None]) -> None:
        """Call `listener` for every event (from the monitor's own task)."""
        self._event_listeners.append(listener)

    def on_frame(self, listener: Callable[[WatchFrame], None]) -> None:
        """Call `listener` for every sample of the monitor (from its own task)."""
        self._frame_listeners.append(listener)

    def _latest(self) -> ResourceSnapshot:
        snapshot = self.latest_snapshot or self.outcome.snapshot
        if snapshot is None:
            raise DockermemError("no snapshot of the stack yet")
        return snapshot

    def _frame(self, frame: WatchFrame) -> None:
        self.latest_frame = frame
        for listener in self._frame_listeners:
            listener(frame)

    def _event(self, event: WatchEvent) -> None:
        self.seen_events.append(event)
        for listener in self._event_listeners:
            listener(event)
        for subscriber in self._subscribers:
            try:
                subscriber.send_nowait(event)
            except anyio.WouldBlock:
                pass  # a subscriber that does not read loses events rather than stalling the monitor

    async def _monitor(self) -> None:
        watcher = Watcher(self.settings, [("default", self.client)], self.project, self._frame, self._event)
        watcher.handle_signals = False
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watcher.run, None)
            while True:
                await anyio.sleep(max(1.0, self.settings.sample_interval_seconds * 5))
                try:
                    await self.snapshot()
                except DockermemError:
                    pass  # the watcher reports an engine that went away


async def unique_project(client: DockerClient, files: Sequence[Path], project: str | None) -> str:
    """A project name of this run's own: the given or declared name with a random suffix."""
    base = project or (await client.compose.config(files)).name or "dockermem"
    return f"{base}-{secrets.token_hex(4)}"


@asynccontextmanager
async def stack(
    *files: str | Path,
    project: str | None = None,
    profile: str | None = None,
    environment: Environment = "dedicated",
    services: Sequence[str] = (),
    wait_timeout: float = 120.0,
    preflight: bool = True,
    keep: bool | None = None,
    settings: Settings | None = None,
    on_update: Callable[[MonitorUpdate], None] | None = None,
) -> AsyncIterator[Stack]:
    """Preflight, start (monitored), watch while the block runs, then bring down or leave up.

    `environment="dedicated"` gives this run a project name of its own and brings the stack
    down afterwards; `"shared"` reuses the project (compose keeps what runs) and leaves it up.
    `keep` overrides what happens afterwards. Raises `PreflightFailedError` when the stack does
    not fit and `StackStartError` when it does not start.
    """
    settings = settings or load_settings()
    client = client_for(settings)
    paths = tuple(Path(file) for file in files)
    name = await unique_project(client, paths, project) if environment == "dedicated" else project
    request = StartRequest(
        files=paths,
        project=name,
        services=tuple(services),
        wait_timeout_seconds=wait_timeout,
        preflight=preflight,
        profile=profile,
        down_on_failure=environment == "dedicated",
        handle_signals=False,
    )
    outcome = await start_stack(client, settings, request, on_update or (lambda update: None))
    if outcome.preflight is not None and not outcome.preflight.ok:
        raise PreflightFailedError(outcome.preflight)
    if not outcome.ok:
        raise StackStartError(outcome)
    running = Stack(outcome.project, paths, environment, settings, client, outcome, outcome.snapshot)
    bring_down = (environment == "dedicated") if keep is None else not keep
    try:
        async with tasks_beside(running._monitor):
            yield running
    finally:
        if bring_down:
            with anyio.CancelScope(shield=True):
                await client.compose.down(paths, outcome.project)
