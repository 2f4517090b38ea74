"""The emergency cleanup on recorded docker outputs: at the host's (or an engine's) EMERGENCY it
removes the stopped containers of the session's own project, once per episode, and says so;
a container at EMERGENCY of its own limit is not its matter."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import anyio

from dockermem.clock import ManualClock
from dockermem.config import Settings
from dockermem.core.emergency import EmergencyCleanup
from dockermem.core.events import Event, EventType
from dockermem.core.session import Observer, Session
from tests.replay import Answer, replayed

# After the recording of tests/fixtures/session: `dmrec-pid1-1` has exited (OOM-killed).
AFTER_RECORDING = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
PID1 = "0c4bcc6e9e6382a2cce3e824d2bbfe8bb435fa2da472bf04e9db50145b053c17"


class Seen(Observer):
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.told = anyio.Event()

    def event(self, event: Event) -> None:
        self.events.append(event)
        if event.type in (EventType.CLEANUP, EventType.ERROR):
            self.told.set()


def emergency(container: str | None = None) -> Event:
    return Event(EventType.EMERGENCY, AFTER_RECORDING, "default", container, "memory is at EMERGENCY")


def clean_up(tmp_path: Path, *happenings: Event) -> tuple[list[Event], list[str]]:
    client, runner = replayed(
        Answer.recorded(r"^ps --all --no-trunc --format (?!.*--filter)", "session/ps-after.jsonl"),
        Answer.recorded(r"^network ls ", "network-ls/demo-up.jsonl"),
        Answer.recorded(r"^volume ls ", "volume-ls/demo-up-named-volume.jsonl"),
        Answer(rf"^rm --volumes -- {PID1}$", stdout=PID1 + "\n"),
    )
    seen = Seen()

    async def main() -> None:
        settings = Settings(state_dir=str(tmp_path / "state"))
        session = Session(
            settings, [("default", client)], project="dmrec", clock=ManualClock(AFTER_RECORDING)
        )
        cleanup = EmergencyCleanup()
        session.attach(seen)
        cleanup.begin(session)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(cleanup.run, session)
            for happening in happenings:
                cleanup.event(happening)
            with anyio.move_on_after(1):
                await seen.told.wait()
            tasks.cancel_scope.cancel()

    anyio.run(main)
    return seen.events, runner.calls


def test_at_the_host_emergency_the_stopped_containers_of_the_project_go(tmp_path: Path) -> None:
    events, calls = clean_up(tmp_path, emergency())
    assert [(e.type, e.message) for e in events] == [
        (EventType.CLEANUP, "memory at EMERGENCY: the emergency cleanup removed 1 stopped containers and 0 "
                            "networks of dmrec"),
    ]  # fmt: skip
    assert f"rm --volumes -- {PID1}" in calls  # the exited one only: api and worker run on


def test_a_container_at_its_own_emergency_cleans_nothing_up(tmp_path: Path) -> None:
    events, calls = clean_up(tmp_path, emergency("dmrec-api-1"))
    assert events == [] and calls == []
