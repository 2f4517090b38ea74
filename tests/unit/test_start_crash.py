"""A service that crashes during `up`, after compose's `--wait` (or the engine's events) found
it running: recorded on Docker 20.10 (tests/fixtures: `ok` healthy beside `crash`, which exited
with 1 three seconds after its start, a second after `ok` became healthy)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from dockermem.config import Settings
from dockermem.core.events import Event
from dockermem.core.judge import Judge, JudgeRules
from dockermem.core.lifecycle import crashed_during_start, exited_since_look, start_notes
from dockermem.core.oom import OomKill, OomKind
from dockermem.docker.models import ContainerState
from dockermem.docker.parse import parse_container_states, parse_engine_info, parse_event
from tests.builders import at
from tests.conftest import FIXTURES

RUNNING = parse_container_states((FIXTURES / "inspect" / "compose-crash-running.json").read_text())
EXITED = parse_container_states((FIXTURES / "inspect" / "compose-crash-exited.json").read_text())


def session_events(until_action: str | None = None) -> list[Event]:
    """What the session made of the recorded docker events (up to the first `until_action`)."""
    judge, events = Judge(JudgeRules.from_settings(Settings())), []
    lines = (FIXTURES / "events" / "compose-crash-after-start.jsonl").read_text().splitlines()
    for index, line in enumerate(lines):
        event = parse_event(line)
        if event.action == until_action:
            break
        events += judge.engine_event(at(index * 0.1), "default", event)
    return events


def crash(states: list[ContainerState]) -> ContainerState:
    return next(state for state in states if state.service == "crash")


def test_a_container_that_exited_since_the_look_makes_it_out_of_date() -> None:
    assert [state.running for state in RUNNING] == [True, True]
    assert exited_since_look(RUNNING, session_events())
    assert not exited_since_look(RUNNING, session_events(until_action="die"))


def test_a_crash_during_the_start_is_told_by_its_death_or_by_when_it_finished() -> None:
    finished = crash(EXITED).finished_at
    assert finished is not None and crash(EXITED).exit_code == 1
    before, after = finished - timedelta(seconds=5), finished + timedelta(seconds=1)
    # The session began before it finished: a crash of this start, whether its `die` came or not.
    assert [state.service for state in crashed_during_start(EXITED, before, [])] == ["crash"]
    assert [state.service for state in crashed_during_start(EXITED, after, session_events())] == ["crash"]
    # It finished before the session began, and no death was seen: an earlier run's.
    assert crashed_during_start(EXITED, after, session_events(until_action="die")) == []
    # Running, exited 0 (a one-shot), or a `compose run` container: no crash.
    assert crashed_during_start(RUNNING, before, session_events()) == []
    assert crashed_during_start([replace(crash(EXITED), exit_code=0)], before, []) == []
    assert crashed_during_start([replace(crash(EXITED), one_off=True)], before, []) == []


def test_the_note_tells_a_crash_after_compose_found_it_running_but_not_an_oom_death() -> None:
    engine = parse_engine_info((FIXTURES / "info" / "engine-20.10.json").read_text())
    crashed = crash(EXITED)
    [note] = start_notes((), True, engine, [crashed])
    assert note.startswith("crash exited with code 1 just after the stack was found started")
    killed = OomKill(crashed.id, crashed.name, "crash", OomKind.CONTAINER, None, None, "kernel log")
    assert start_notes((), True, engine, [crashed], [killed]) == ()
    assert start_notes((), True, engine, [crashed], [replace(killed, kind=OomKind.PROCESS)]) == (note,)
