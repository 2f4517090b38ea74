"""The emergency cleanup: when the host or an engine reaches EMERGENCY (90 %), remove the stale
resources of the session's own compose project (its stopped containers, then its networks),
once per episode, beside the session. Never anything running, never another project's."""

from __future__ import annotations

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from dockermem.core.cleanup import CleanupScope, apply_cleanup, plan_cleanup
from dockermem.core.counters import add_to_counters
from dockermem.core.events import Event, EventType
from dockermem.core.session import Observer, Session
from dockermem.errors import DockermemError


class EmergencyCleanup(Observer):
    """Cleans up the session's project at each EMERGENCY of the host or an engine (the judge
    says EMERGENCY once per episode)."""

    def __init__(self) -> None:
        self._send: MemoryObjectSendStream[Event] | None = None
        self._receive: MemoryObjectReceiveStream[Event] | None = None

    def begin(self, session: Session) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[Event](1)

    def event(self, event: Event) -> None:
        # A container at EMERGENCY of its own limit is its own matter: cleaning up frees
        # memory of the host and the engine, not of one container's limit.
        if event.type is EventType.EMERGENCY and event.container is None and self._send is not None:
            try:
                self._send.send_nowait(event)
            except anyio.WouldBlock:
                pass  # a cleanup is already waiting to run

    async def run(self, session: Session) -> None:
        assert self._receive is not None and self._send is not None
        if session.project is None:
            return  # nothing is the session's own to clean up
        try:
            async for emergency in self._receive:
                session.emit(await self._clean_up(session, session.project, emergency))
        finally:
            self._send.close()
            self._receive.close()

    async def _clean_up(self, session: Session, project: str, emergency: Event) -> Event:
        def said(kind: EventType, message: str) -> Event:
            return Event(kind, session.clock.now(), emergency.engine, None, message, project=project)

        try:
            plan = await plan_cleanup(session.client, CleanupScope(project=project), session.clock.now())
            outcome = await apply_cleanup(session.client, plan)
        except DockermemError as error:
            return said(EventType.ERROR, f"emergency cleanup failed: {error}")
        add_to_counters(session.settings.state_path, outcome.counters)
        return said(
            EventType.CLEANUP,
            f"memory at EMERGENCY: the emergency cleanup removed {len(outcome.removed_containers)} stopped "
            f"containers and {len(outcome.removed_networks)} networks of {project}",
        )
