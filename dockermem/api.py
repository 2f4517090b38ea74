"""dockermem's Python API: memory safety inside a test suite, on the same core as the CLI.

    async with dockermem.stack("compose/test.yaml", memory_profile="standard") as stack:
        snapshot = await stack.snapshot()
        print(stack.health_report())
        async for event in stack.events():   # warnings, OOM kills, leaks as they happen
            ...

`stack()` runs the preflight, brings the stack up with a monitoring session beside compose,
keeps that session watching while the block runs (recording the run in the history, as `up`
and `watch` do), and brings the stack down afterwards (a dedicated environment) or leaves it up
(a shared one). `dockermem.sync.stack()` is the same for plain scripts. Errors are the typed
errors the CLI maps to exit codes (`dockermem.errors`).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from dockermem.config import Settings, load_settings
from dockermem.core.client import client_for
from dockermem.core.counters import read_counters
from dockermem.core.events import Event, Frame
from dockermem.core.lifecycle import StartOutcome, StartRequest, started_stack
from dockermem.core.recorder import HistoryRecorder
from dockermem.core.session import Observer, Session
from dockermem.core.snapshot import ResourceSnapshot, above_percent, take_snapshot
from dockermem.docker.client import DockerClient
from dockermem.docker.models import ComposeContainer
from dockermem.errors import DockermemError, PreflightFailedError, StackStartError, start_error

__all__ = ["PreflightFailedError", "Stack", "StackStartError", "stack"]

Environment = Literal["dedicated", "shared"]
EVENT_QUEUE = 1000


class _Listener(Observer):
    """Calls back for every frame or event (from the session's own task)."""

    def __init__(
        self, on_frame: Callable[[Frame], None] | None = None, on_event: Callable[[Event], None] | None = None
    ) -> None:
        self._on_frame = on_frame
        self._on_event = on_event

    def frame(self, frame: Frame) -> None:
        if self._on_frame is not None:
            self._on_frame(frame)

    def event(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event)


class _EventQueue(Observer):
    """One `events()` reader's queue: a reader that does not read loses events rather than
    stalling the session."""

    def __init__(self, send: MemoryObjectSendStream[Event]) -> None:
        self.send = send

    def event(self, event: Event) -> None:
        try:
            self.send.send_nowait(event)
        except (anyio.WouldBlock, anyio.ClosedResourceError):
            pass


@dataclass
class Stack:
    """A running stack and what dockermem sees of it."""

    project: str
    files: tuple[Path, ...]
    environment: Environment
    settings: Settings
    client: DockerClient
    outcome: StartOutcome
    session: Session
    latest_snapshot: ResourceSnapshot | None = None

    @property
    def latest_frame(self) -> Frame | None:
        """The session's latest frame: every container's memory, trend and peak."""
        return self.session.latest_frame

    @property
    def seen_events(self) -> Sequence[Event]:
        """The events so far (the latest few hundred)."""
        return tuple(self.session.events)

    async def snapshot(self) -> ResourceSnapshot:
        """A fresh snapshot of the stack's containers, host and engine."""
        self.latest_snapshot = await take_snapshot(self.client, self.settings, self.project)
        return self.latest_snapshot

    async def services(self) -> list[ComposeContainer]:
        """The stack's containers as compose lists them: service, state, health, exit code."""
        return await self.client.compose.ps(self.files, self.project)

    def health_report(self, width: int = 100) -> str:
        """The health report (as `dockermem health` prints it) of the latest snapshot."""
        from dockermem.render.styles import rendered  # rich only when a report is asked for
        from dockermem.render.tables import build_health_report

        return rendered(build_health_report(self._latest()), width)

    def statistics(self) -> dict[str, Any]:
        """The statistics (as `dockermem stats --json` gives them) of the latest snapshot."""
        from dockermem.render.documents import stats_document

        counters = read_counters(self.settings.state_path)
        return stats_document(self._latest(), counters, self.settings.high_memory_percent)

    async def events(self) -> AsyncIterator[Event]:
        """Warnings, OOM kills, leaks and the rest as they happen, from now on."""
        send, receive = anyio.create_memory_object_stream[Event](EVENT_QUEUE)
        queue = _EventQueue(send)
        self.session.attach(queue)
        try:
            async with receive:
                async for event in receive:
                    yield event
        finally:
            self.session.detach(queue)
            send.close()

    def on_event(self, listener: Callable[[Event], None]) -> None:
        """Call `listener` for every event (from the session's own task)."""
        self.session.attach(_Listener(on_event=listener))

    def on_frame(self, listener: Callable[[Frame], None]) -> None:
        """Call `listener` for every frame of the session (from its own task)."""
        self.session.attach(_Listener(on_frame=listener))

    def _latest(self) -> ResourceSnapshot:
        """The latest snapshot, its memory figures brought up to the session's latest frame
        (the resource counts are the snapshot's own: `await snapshot()` takes them again)."""
        snapshot = self.latest_snapshot or self.outcome.snapshot
        if snapshot is None:
            raise DockermemError("no snapshot of the stack yet")
        frame = self.session.latest_frame
        if frame is None or frame.ts <= snapshot.taken_at:
            return snapshot
        return replace(
            snapshot,
            taken_at=frame.ts,
            host=frame.host,
            host_memory_level=frame.host_level,
            containers=frame.containers,
            source=frame.engines[0].source if frame.engines else snapshot.source,
            high_memory=above_percent(frame.containers, self.settings.high_memory_percent),
        )


@asynccontextmanager
async def stack(
    *files: str | Path,
    project: str | None = None,
    profile: str | None = None,
    environment: Environment = "dedicated",
    memory_profile: str | None = None,
    compose_profiles: Sequence[str] = (),
    services: Sequence[str] = (),
    wait_timeout: float = 120.0,
    preflight: bool = True,
    keep: bool | None = None,
    settings: Settings | None = None,
    observers: Sequence[Observer] = (),
) -> AsyncIterator[Stack]:
    """Preflight, start (watched), watch while the block runs, then bring down or leave up.

    `environment="dedicated"` gives this run a project name of its own and brings the stack
    down afterwards; `"shared"` reuses the project (compose keeps what runs) and leaves it up.
    `keep` overrides what happens afterwards. `memory_profile` is a named memory budget the
    stack must fit within (`profile` is its former name); `compose_profiles` are compose's own
    (`--profile`). `observers` are plugged into the session beside
    the history recorder (on unless the settings turn history off). Raises
    `PreflightFailedError` when the stack does not fit and `StackStartError` when it does not
    start.
    """
    settings = settings or load_settings()
    client = client_for(settings)
    paths = tuple(Path(file) for file in files)
    base = project or (await client.compose.config(paths, None, compose_profiles)).name or "dockermem"
    name = f"{base}-{secrets.token_hex(4)}" if environment == "dedicated" else project
    request = StartRequest(
        files=paths,
        project=name,
        services=tuple(services),
        wait_timeout_seconds=wait_timeout,
        preflight=preflight,
        memory_profile=memory_profile or profile,
        compose_profiles=tuple(compose_profiles),
        down_on_failure=environment == "dedicated",
    )
    watching = list(observers)
    if settings.history:
        watching.append(HistoryRecorder(settings.history_path, "up"))
    bring_down = (environment == "dedicated") if keep is None else not keep
    started_project: str | None = None
    try:
        async with started_stack(client, settings, request, observers=watching, recorded_as=base) as started:
            error = start_error(started.outcome)
            if error is not None:
                raise error
            assert started.session is not None
            started_project = started.outcome.project
            yield Stack(
                started_project, paths, environment, settings, client, started.outcome, started.session
            )
    finally:
        # After the session's last frame: the history keeps what the stack held at the end.
        if bring_down and started_project is not None:
            with anyio.CancelScope(shield=True):
                await client.compose.down(paths, started_project)
