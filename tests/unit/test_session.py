"""A whole monitoring session on recorded docker outputs (tests/fixtures/session: one stack,
recorded together): the feed lists and follows, the judge counts each OOM kill once and tells
which kind it was, and the observers (the history recorder among them) see it all."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio

from dockermem.clock import ManualClock
from dockermem.config import Settings
from dockermem.core.events import Event, EventType, Frame, SessionSummary
from dockermem.core.history import HistoryStore
from dockermem.core.oom import OomKind
from dockermem.core.recorder import HistoryRecorder
from dockermem.core.session import Observer, Session
from dockermem.docker.parse import parse_container_states
from tests.builders import MIB, START
from tests.replay import FIXTURES, Answer, engine_answers, replayed

PROJECT = "dmrec"


def recorded_session() -> list[Answer]:
    return [
        *engine_answers(),
        Answer.recorded(rf"^ps --all .*project={PROJECT}$", "session/ps.jsonl"),
        Answer.recorded(r"^events ", "session/events.jsonl", stream=True, hold=True),
        Answer.recorded(r"^stats ", "session/stats-stream.raw", stream=True, hold=True),
    ]


class Seen(Observer):
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.frames: list[Frame] = []
        self.summary: SessionSummary | None = None

    def event(self, event: Event) -> None:
        self.events.append(event)

    def frame(self, frame: Frame) -> None:
        self.frames.append(frame)

    def finish(self, summary: SessionSummary) -> None:
        self.summary = summary


def settings_for(tmp_path: Path, **more: Any) -> Settings:
    # The cgroup files and kernel log here would be this machine's: the recorded stats stream is
    # read instead, and a kernel log of the test's own (empty unless a test writes to it).
    kernel_log = tmp_path / "kmsg"
    kernel_log.touch()
    options: dict[str, Any] = {"kernel_log": str(kernel_log), **more}
    return Settings(fast_path=False, state_dir=str(tmp_path / "state"), **options)


def run_session(tmp_path: Path, clock: ManualClock, *observers: Observer) -> list[str]:
    client, runner = replayed(*recorded_session())
    settings = settings_for(tmp_path)

    async def main() -> None:
        session = Session(
            settings,
            [("default", client)],
            project=PROJECT,
            observers=observers,
            clock=clock,
            interval_seconds=0.01,
        )
        async with session.running():
            with anyio.fail_after(10):
                while len(session.judge.ledger.kills) < 2 or not (
                    session.latest_frame and session.latest_frame.containers
                ):
                    await session.next_frame()
                    clock.advance(1)

    anyio.run(main)
    return runner.calls


def test_a_recorded_session_counts_each_kill_once_and_tells_its_kind(tmp_path: Path) -> None:
    seen = Seen()
    calls = run_session(tmp_path, ManualClock(START), seen)
    ooms = [event for event in seen.events if event.type is EventType.OOM]
    assert sorted((event.container, event.service) for event in ooms) == [
        ("dmrec-pid1-1", "pid1"),
        ("dmrec-worker-1", "worker"),
    ]
    [exited] = [event for event in seen.events if event.type is EventType.EXITED]
    assert exited.message == "pid1 exited with code 137 (OOM-killed)"
    assert seen.summary is not None and seen.summary.oom_seen
    memory = {row.service: row.memory_usage_bytes for row in seen.frames[-1].containers}
    assert memory["api"] == round(20.36 * MIB)  # the stream's last line: "20.36MiB / 128MiB"
    assert any(call.startswith("events --format {{json .}} --since ") for call in calls)


def test_the_kills_settle_with_what_inspect_said(tmp_path: Path) -> None:
    clock = ManualClock(START)
    client, _ = replayed(*recorded_session())
    settings = settings_for(tmp_path)
    states = parse_container_states((FIXTURES / "session" / "inspect.json").read_text())

    async def main() -> dict[str, OomKind]:
        session = Session(
            settings, [("default", client)], project=PROJECT, clock=clock, interval_seconds=0.01
        )
        async with session.running():
            with anyio.fail_after(10):
                while len(session.judge.ledger.kills) < 2:
                    await session.next_frame()
            session.settle(states)
            return {kill.name: kill.kind for kill in session.judge.ledger.kills}

    kinds = anyio.run(main)
    assert kinds == {"dmrec-worker-1": OomKind.PROCESS, "dmrec-pid1-1": OomKind.CONTAINER}


def test_the_history_records_the_run_and_its_kills(tmp_path: Path) -> None:
    clock = ManualClock(START)
    path = tmp_path / "history.sqlite3"
    recorder = HistoryRecorder(path, "up")
    run_session(tmp_path, clock, recorder)
    assert recorder.error is None
    with HistoryStore(path) as store:
        report = {row.service: row for row in store.service_report(START - timedelta(hours=1), PROJECT)}
    assert {"api", "worker", "pid1"} <= set(report)
    # The highest reading a tick saw: the stream printed 20.52 MiB, then 20.36 MiB.
    assert report["api"].peak_bytes in (round(20.36 * MIB), round(20.52 * MIB))
    assert (report["worker"].oom_kills, report["pid1"].oom_kills) == (1, 1)


def notices_of(tmp_path: Path, engine: str, **settings: Any) -> list[str]:
    client, _ = replayed(
        *engine_answers(engine),
        Answer(rf"^ps --all .*project={PROJECT}$"),
        Answer(r"^events ", hold=True),
        Answer(r"^stats ", hold=True),
    )
    seen = Seen()

    async def main() -> None:
        session = Session(
            settings_for(tmp_path, **settings), [("default", client)], project=PROJECT,
            observers=[seen], clock=ManualClock(START), interval_seconds=0.01,
        )  # fmt: skip
        async with session.running():
            await session.next_frame()

    anyio.run(main)
    return [event.message for event in seen.events if event.type is EventType.NOTICE]


def test_a_kernel_log_that_cannot_be_read_is_said_once(tmp_path: Path) -> None:
    [notice] = notices_of(tmp_path, "engine-20.10", kernel_log=str(tmp_path / "no-such-kmsg"))
    assert notice.startswith(f"the kernel log cannot be read ({tmp_path / 'no-such-kmsg'}: ")
    assert notices_of(tmp_path, "engine-20.10") == []  # read: nothing to say


def test_podman_without_the_kernel_log_is_said_to_miss_kills_at_the_start(tmp_path: Path) -> None:
    [notice] = notices_of(tmp_path, "podman-4.3", kernel_log="")  # DOCKERMEM_KERNEL_LOG=0
    assert notice.startswith("engine default sends no OOM events (Podman) and the kernel's log is not read")
    assert notices_of(tmp_path, "podman-4.3") == []  # the kernel's log sees them
