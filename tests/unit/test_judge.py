"""The judge's decisions, replayed with a clock the test moves: warnings with their recovery
margin, EMERGENCY once per episode, leaks, the host's and engine's episodes, containers that
come and go, and OOM kills counted once however many ways they are seen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dockermem.config import Settings
from dockermem.core.events import ContainerPeak, Event, EventType, SessionSummary
from dockermem.core.judge import Judge, JudgeRules
from dockermem.core.oom import OomKind
from dockermem.docker.models import ContainerEvent, ContainerState, ContainerSummary
from dockermem.docker.parse import parse_container_states, parse_event
from dockermem.kernel.oom_log import KernelOomKill, parse_dmesg_line, parse_kmsg_record, parse_oom_kills
from tests.builders import GIB, MIB, at, engine, event, host, reading, summary
from tests.conftest import FIXTURES

API = summary("shop-api-1", "api")
DB = summary("shop-db-1", "db")


def judge(**settings: float) -> Judge:
    return Judge(JudgeRules.from_settings(Settings(**settings)))  # type: ignore[arg-type]


def types(events: Sequence[Event]) -> list[str]:
    return [e.type.value for e in events]


def test_a_warning_at_80_percent_once_and_its_recovery_below_75() -> None:
    j = judge()
    seen: list[Event] = []
    for second, usage in enumerate([70, 80, 89, 79, 76, 74.9, 81]):
        _, events = j.tick(at(second), second, host(), [engine(reading(API, usage, 100))])
        seen += events
    assert types(seen) == ["warning", "recovered", "warning"]
    assert seen[0].message == "shop-api-1 at 80.0% of its 100MiB limit (warns at 80%)"
    assert seen[0].details["memory_usage_bytes"] == 80 * 1024**2
    assert (seen[0].container_id, seen[0].service, seen[0].project) == (API.id, "api", "shop")


def test_emergency_once_per_episode_which_ends_below_critical() -> None:
    j = judge()
    seen: list[Event] = []
    for second, usage in enumerate([91, 95, 80, 92, 60, 93]):
        _, events = j.tick(at(second), second, host(), [engine(reading(DB, usage, 100))])
        seen += [e for e in events if e.type is EventType.EMERGENCY]
    assert [e.ts.second for e in seen] == [0, 5]  # not again at 92 %: 80 % is still CRITICAL
    assert "91.0% of its limit" in seen[0].message
    assert j.emergency_seen


def test_a_container_without_a_limit_is_judged_against_the_engine() -> None:
    j = judge()
    frame, events = j.tick(at(0), 0, host(), [engine(reading(DB, 15 * 1024, None), total=16 * GIB)])
    assert frame.containers[0].memory_percent is None
    assert frame.containers[0].level.value == "emergency"
    [own] = [e for e in events if e.container == "shop-db-1"]
    assert own.message == "shop-db-1 is at EMERGENCY: 93.8% of the engine's memory (it has no limit)"


def test_a_limit_near_the_engine_memory_is_no_limit() -> None:
    frame, _ = judge().tick(at(0), 0, host(), [engine(reading(DB, 10, 16 * 1024 - 1), total=16 * GIB)])
    assert frame.containers[0].memory_limit_bytes is None


def test_steady_growth_is_one_leak_with_its_rate() -> None:
    j = judge(leak_min_span_seconds=5)
    leaks: list[Event] = []
    for second in range(12):
        _, events = j.tick(at(second), second, host(), [engine(reading(API, 20 + 2 * second, 512))])
        leaks += [e for e in events if e.type is EventType.LEAK]
    assert len(leaks) == 1
    assert leaks[0].details["mib_per_minute"] == pytest.approx(120)
    assert leaks[0].message.startswith("api: +120.0 MiB/min over 5 s (6 samples), limit in ~")
    assert (leaks[0].details["span_seconds"], leaks[0].details["samples"]) == (5.0, 6)


def watched(j: Judge, usage_at: Sequence[float], step: float = 0.5, limit: float = 256) -> list[Event]:
    """The leak events of a container whose usage (MiB) is read every `step` seconds."""
    seen: list[Event] = []
    for number, usage in enumerate(usage_at):
        second = number * step
        _, events = j.tick(at(second), second, host(), [engine(reading(API, usage, limit))])
        seen += [e for e in events if e.type in (EventType.LEAK, EventType.LEAK_CLEARED)]
    return seen


def test_a_sawtooth_is_taken_back_at_its_first_drop_and_never_raised_again() -> None:
    # 40 MiB over 16 s, given back, again: a batch job, or a collector. 100 s of it.
    usage = [60 + 40 * ((number * 0.5) % 16) / 16 for number in range(200)]
    seen = watched(judge(), usage)
    assert types(seen) == ["leak", "leak-cleared"]  # the early warning of a fast fill, taken back
    raised, cleared = seen
    assert raised.ts < at(16).ts <= cleared.ts < at(17).ts
    assert cleared.details["reason"] == "fell"
    assert cleared.message.startswith("api: no longer growing: memory fell by ")


def test_a_steady_fill_is_a_leak_before_the_limit_and_stays_one() -> None:
    usage = [60 + 2 * number for number in range(90)]  # 4 MiB/s toward 256 MiB: limit at 49 s
    seen = watched(judge(), usage)
    assert types(seen) == ["leak"]
    assert seen[0].ts < at(45).ts


def test_a_leak_that_stops_growing_is_taken_back_once() -> None:
    usage = [60 + 2 * number for number in range(40)] + [139.0] * 80  # grows 20 s, then flat
    seen = watched(judge(), usage)
    assert types(seen) == ["leak", "leak-cleared"]
    assert seen[1].details["reason"] == "stopped"
    assert at(20).ts < seen[1].ts <= at(20 + 20).ts


def test_a_long_ramp_then_a_plateau_is_one_leak_and_one_take_back() -> None:
    # 10 MiB/min for 180 s, then flat for 3 minutes: the 5-minute fit still holds the ramp long
    # after it stopped, which must not raise the leak again.
    usage = [60 + 10 * second / 60 for second in range(180)] + [90.0] * 180
    seen = watched(judge(), usage, step=1.0, limit=1024)
    assert types(seen) == ["leak", "leak-cleared"], [(e.type.value, e.ts) for e in seen]


def test_no_trend_is_shown_before_ten_seconds_of_samples_and_noise_is_flat() -> None:
    j = judge()
    trends = []
    for number, usage in enumerate([61.7, 61.8, 61.7, 61.8] * 10):
        second = number * 0.5
        frame, _ = j.tick(at(second), second, host(), [engine(reading(API, usage, 256))])
        trends.append(frame.containers[0].trend_mib_per_minute)
    assert trends[:20] == [None] * 20  # under 10 s
    assert set(trends[20:]) == {0.0}


def test_the_host_and_engine_episodes() -> None:
    j = judge()
    found: list[str] = []
    for second, percent in enumerate([50, 76, 80, 91, 95, 74, 92]):
        _, events = j.tick(at(second), second, host(percent), [engine()])
        found += [f"{e.type.value}@{second}" for e in events]
    assert found == ["critical@1", "emergency@3", "critical@6", "emergency@6"]


def test_an_engine_full_of_containers_is_an_episode_though_the_host_is_calm() -> None:
    big = [reading(summary(f"w{n}", "w"), 1024, None) for n in range(15)]  # 15 GiB of 16
    _, events = judge().tick(at(0), 0, host(20), [engine(*big, total=16 * GIB)])
    pressure = [e for e in events if e.container is None]
    assert types(pressure) == ["critical", "emergency"]
    assert "engine default 93.8% in containers" in pressure[1].message


def test_containers_that_come_and_go_but_not_those_running_at_the_start() -> None:
    j = judge()
    _, first = j.tick(at(0), 0, host(), [engine(reading(API, 10))])
    _, second = j.tick(at(1), 1, host(), [engine(reading(API, 10), reading(DB, 10))])
    _, third = j.tick(at(2), 2, host(), [engine(reading(DB, 10))])
    assert first == []
    assert [(e.type.value, e.container) for e in second] == [("started", "shop-db-1")]
    assert [(e.type.value, e.container) for e in third] == [("gone", "shop-api-1")]
    assert {peak.name for peak in j.peak_list} == {"shop-api-1", "shop-db-1"}  # gone, still peaked


def test_a_start_event_is_told_once_though_the_listing_sees_it_too() -> None:
    j = judge()
    j.tick(at(0), 0, host(), [engine()])
    started = j.engine_event(at(0.5), "default", event("start", API, 0.5))
    _, listed = j.tick(at(1), 1, host(), [engine(reading(API, 10))])
    healthy = j.engine_event(at(1.5), "default", event("health_status: healthy", API, 1.5))
    assert types(started) == ["started"] and listed == []
    assert [(e.type.value, e.message) for e in healthy] == [("healthy", "api healthy")]


def test_an_oom_seen_by_the_event_and_the_counter_is_one_kill() -> None:
    j = judge()
    j.tick(at(0), 0, host(), [engine(reading(API, 60, 64, oom_kills=0))])
    by_event = j.engine_event(at(0.4), "default", event("oom", API, 0.4))
    _, by_counter = j.tick(at(1), 1, host(), [engine(reading(API, 20, 64, oom_kills=1))])
    assert types(by_event) == ["oom"] and by_event[0].details["seen_by"] == "docker events"
    assert [e for e in by_counter if e.type is EventType.OOM] == []
    frame, _ = j.tick(at(2), 2, host(), [engine(reading(API, 20, 64, oom_kills=1))])
    assert frame.containers[0].oom_kills == 1
    assert [(k.kind, k.seen_by) for k in j.ledger.kills] == [(OomKind.PROCESS, "docker events")]


def test_two_kills_are_two_even_close_together_and_a_counter_jump_counts_each() -> None:
    j = judge()
    j.tick(at(0), 0, host(), [engine(reading(API, 60, 64, oom_kills=0))])
    j.engine_event(at(0.2), "default", event("oom", API, 0.2))
    j.engine_event(at(0.3), "default", event("oom", API, 0.3))
    _, counted = j.tick(at(1), 1, host(), [engine(reading(API, 20, 64, oom_kills=2))])
    assert [e for e in counted if e.type is EventType.OOM] == []  # the same two kills
    _, later = j.tick(at(10), 10, host(), [engine(reading(API, 20, 64, oom_kills=4))])
    assert types([e for e in later if e.type is EventType.OOM]) == ["oom", "oom"]  # two new, by the counter
    assert len(j.ledger.kills) == 4


def test_an_exit_with_137_makes_the_kill_the_container_own_in_either_order() -> None:
    j = judge()
    j.tick(at(0), 0, host(), [engine(reading(API, 60, 64, oom_kills=0), reading(DB, 60, 64, oom_kills=0))])
    # api: the event, then the death. db: the death, then the counter (no event at all).
    j.engine_event(at(0.1), "default", event("oom", API, 0.1))
    exited = j.engine_event(at(0.2), "default", event("die", API, 0.2, exit_code=137))
    j.engine_event(at(0.3), "default", event("die", DB, 0.3, exit_code=137))
    j.tick(at(1), 1, host(), [engine(reading(DB, 0, 64, oom_kills=1), listed=(DB,))])
    assert exited[0].message == "api exited with code 137 (OOM-killed)"
    assert [(k.name, k.kind, k.seen_by) for k in j.ledger.kills] == [
        ("shop-api-1", OomKind.CONTAINER, "docker events"),
        ("shop-db-1", OomKind.CONTAINER, "cgroup"),
    ]


def test_a_kill_counted_after_the_last_reading_is_in_the_peaks() -> None:
    # api's main process is killed: its event and death come between two ticks, and the next
    # listing has it gone (no reading raises its row again). db's kill is told only once it is
    # gone (its engine's event, late). Each peak counts its container's kill all the same.
    j = judge()
    j.tick(at(0), 0, host(), [engine(reading(API, 60, 64, oom_kills=0), reading(DB, 60, 64, oom_kills=0))])
    j.engine_event(at(0.1), "default", event("oom", API, 0.1))
    j.engine_event(at(0.2), "default", event("die", API, 0.2, exit_code=137))
    j.tick(at(1), 1, host(), [engine(reading(DB, 60, 64, oom_kills=0))])
    j.tick(at(2), 2, host(), [engine()])
    j.engine_event(at(2.5), "default", event("oom", DB, 2.5))
    assert {peak.name: peak.oom_kills for peak in j.peak_list} == {"shop-api-1": 1, "shop-db-1": 1}
    j.tick(at(3), 3, host(), [engine()])
    assert {peak.name: peak.oom_kills for peak in j.peak_list} == {"shop-api-1": 1, "shop-db-1": 1}


def test_a_container_restarted_with_its_id_keeps_its_peak_and_kills() -> None:
    # A restart policy brings api back with the same ID after its OOM kill, holding less.
    j = judge()
    j.tick(at(0), 0, host(), [engine(reading(API, 60, 64, oom_kills=0))])
    j.engine_event(at(0.1), "default", event("oom", API, 0.1))
    j.engine_event(at(0.2), "default", event("die", API, 0.2, exit_code=137))
    j.tick(at(1), 1, host(), [engine()])
    frame, _ = j.tick(at(2), 2, host(), [engine(reading(API, 5, 64, oom_kills=0))])
    [row] = frame.containers
    assert (row.peak_bytes, row.oom_kills) == (60 * MIB, 1)
    [peak] = j.peak_list
    assert (peak.peak_bytes, peak.oom_kills) == (60 * MIB, 1)


def test_recorded_events_of_a_child_kill_and_a_pid_1_kill() -> None:
    """The events docker sent (tests/fixtures/events) and what inspect said afterwards."""
    j = judge()
    for name in ("events-oom-child.jsonl", "events-oom-pid1.jsonl"):
        for index, line in enumerate((FIXTURES / "events" / name).read_text().splitlines()):
            j.engine_event(at(index * 0.01), "default", parse_event(line))
    states = [
        *parse_container_states((FIXTURES / "inspect" / "oom-child.json").read_text()),
        *parse_container_states((FIXTURES / "inspect" / "oom-pid1.json").read_text()),
    ]
    j.settle(at(1), "default", states)
    kills = {kill.name: kill.kind for kill in j.ledger.kills}
    assert kills == {"dm-oom-child": OomKind.PROCESS, "dm-oom-pid1": OomKind.CONTAINER}


def test_a_kill_only_the_state_shows_is_added_and_told() -> None:
    states = parse_container_states((FIXTURES / "inspect" / "oom-pid1.json").read_text())
    j = judge()
    told = j.settle(at(0), "default", states)
    [kill] = j.ledger.kills
    assert (kill.name, kill.kind, kill.seen_by) == ("dm-oom-pid1", OomKind.CONTAINER, "state")
    assert [(e.type, e.container, e.details["seen_by"]) for e in told] == [
        (EventType.OOM, "dm-oom-pid1", "state")
    ]
    assert j.oom_seen
    assert j.settle(at(1), "default", states) == []  # told once


def test_a_docker_event_read_twice_is_judged_once() -> None:
    j = judge()
    oom = event("oom", API, 1.0)
    assert types(j.engine_event(at(1), "default", oom)) == ["oom"]
    assert j.engine_event(at(2), "default", oom) == []  # a catch-up read the span again


def test_a_counter_read_late_is_still_the_kill_the_event_told() -> None:
    # At a 2 s interval the counter is read every 5th tick: up to 12 s after docker's event.
    j = Judge(JudgeRules.from_settings(Settings(), same_kill_seconds=12))
    j.tick(at(0), 0, host(), [engine(reading(API, 60, 64, oom_kills=0))])
    j.engine_event(at(0.5), "default", event("oom", API, 0.5))
    _, late = j.tick(at(10), 10, host(), [engine(reading(API, 20, 64, oom_kills=1))])
    assert [e for e in late if e.type is EventType.OOM] == []
    assert len(j.ledger.kills) == 1


def test_an_engine_down_is_said_once_until_it_is_back() -> None:
    j = judge()
    first = j.engine_down(at(0), "default", "no answer")
    again = j.engine_down(at(1), "default", "no answer")
    j.engine_back("default")
    after = j.engine_down(at(2), "default", "no answer")
    assert (types(first), again, types(after)) == (["engine-down"], [], ["engine-down"])


def test_a_container_that_came_during_the_session_counts_its_kills_from_zero() -> None:
    # Podman sends no oom event: a process killed before the first reading shows only in the
    # counter, already at 1. A container that was there before the session brings old kills.
    j = judge()
    j.tick(at(0), 0, host(), [engine(reading(DB, 10, 64, oom_kills=3))])
    _, later = j.tick(
        at(1), 1, host(), [engine(reading(DB, 10, 64, oom_kills=3), reading(API, 4, 64, oom_kills=1))]
    )
    kills = [e for e in later if e.type is EventType.OOM]
    assert [(e.container, e.details["seen_by"]) for e in kills] == [("shop-api-1", "cgroup")]


def podman_start_kill() -> tuple[list[ContainerEvent], list[KernelOomKill]]:
    """Podman 4.3 starting `hog` (memhog 100 in 32 MiB, PID 1 OOM-killed at once) beside
    `calm`, then `down`: its events (no `oom`, a `die` with 137, `remove`) and the kernel's
    record of the kill, recorded together."""
    events = [
        parse_event(line)
        for line in (FIXTURES / "events" / "podman-compose-oom.jsonl").read_text().splitlines()
    ]
    records = (FIXTURES / "kernel" / "podman-compose-oom.kmsg").read_bytes().splitlines(keepends=True)
    kills = parse_oom_kills([r for line in records if (r := parse_kmsg_record(line)) is not None])
    return events, kills


@pytest.mark.parametrize("kernel_first", [False, True])
def test_a_kill_only_the_kernel_log_saw_is_the_containers_death(kernel_first: bool) -> None:
    # The kill is read from the kernel's log before or after podman's `die` arrives; either
    # way one kill, of the container itself, naming its process.
    events, [kernel_kill] = podman_start_kill()
    j = judge()
    j.tick(at(0), 0, host(), [engine()])
    starts = [e for e in events if e.action in ("create", "start")]
    death = next(e for e in events if e.action == "die" and e.exit_code == 137)
    told: list[Event] = []
    for e in starts:
        told += j.engine_event(at(0.1), "default", e)
    if kernel_first:
        told += j.kernel_kills(at(0.2), [kernel_kill])
        told += j.engine_event(at(0.3), "default", death)
    else:
        told += j.engine_event(at(0.2), "default", death)
        told += j.kernel_kills(at(0.3), [kernel_kill])
    [oom] = [e for e in told if e.type is EventType.OOM]
    assert (oom.service, oom.details["seen_by"], oom.details["process"]["name"]) == (
        "hog",
        "kernel log",
        "memhog",
    )
    assert oom.details["cgroup_limit_bytes"] == 32 * 1024**2
    [kill] = j.ledger.kills
    assert kill.kind is OomKind.CONTAINER
    assert kill.describe().startswith("hog was OOM-killed at ")
    assert ": process memhog (pid " in kill.describe() and "of its 32.0MiB limit" in kill.describe()


def test_a_kernel_kill_of_a_container_of_no_concern_is_let_go() -> None:
    _, [kernel_kill] = podman_start_kill()
    j = judge()
    j.tick(at(0), 0, host(), [engine(reading(API, 10, 64))])
    assert j.kernel_kills(at(1), [kernel_kill]) == []
    _, later = j.tick(at(40), 40, host(), [engine(reading(API, 10, 64))])
    assert [e for e in later if e.type is EventType.OOM] == [] and j.ledger.kills == ()


def test_podmans_own_words_for_death_and_removal_are_dockers() -> None:
    events, _ = podman_start_kill()
    assert [e.action for e in events if e.service == "hog"] == [
        "create",
        "init",
        "start",
        "die",
        "cleanup",
        "destroy",
    ]


def test_docker_26_says_oomkilled_of_a_living_container_whose_process_was_killed() -> None:
    # Docker 25 and later set State.OOMKilled for a kill of any process: the container runs on.
    states = parse_container_states((FIXTURES / "inspect" / "docker26-oom-child.json").read_text())
    assert states[0].oom_killed and states[0].running
    j = judge()
    j.engine_event(at(0), "default", event("oom", summary("dm-oom-child26", cid=states[0].id), 0))
    j.settle(at(1), "default", states)
    [kill] = j.ledger.kills
    assert kill.kind is OomKind.PROCESS
    unseen = judge()
    [told] = unseen.settle(at(1), "default", states)
    assert told.details["seen_by"] == "state" and unseen.ledger.kills[0].kind is OomKind.PROCESS


@pytest.mark.parametrize(
    "recording", ["oom-child-exited-0.json", "docker26-oom-child-exited-0.json"], ids=["20.10", "26"]
)
def test_oomkilled_of_a_container_that_exited_0_after_a_childs_kill_is_a_process_kill(recording: str) -> None:
    # `sh -c 'memhog 100; exit 0'` under 32 MiB: memhog was killed, sh went on and exited 0.
    # Both engines set State.OOMKilled (20.10 as the container stopped): the container's main
    # process was never killed, and the state's flag must not make the kill its death.
    [state] = parse_container_states((FIXTURES / "inspect" / recording).read_text())
    assert state.oom_killed and state.exit_code == 0 and not state.running
    j = judge()
    j.engine_event(at(0), "default", event("oom", summary("dm-oom-exit0", cid=state.id), 0))
    j.settle(at(1), "default", [state])
    assert [kill.kind for kill in j.ledger.kills] == [OomKind.PROCESS]
    unseen = judge()
    [told] = unseen.settle(at(1), "default", [state])
    assert told.details["seen_by"] == "state" and [k.kind for k in unseen.ledger.kills] == [OomKind.PROCESS]


@pytest.mark.parametrize(
    ("killed_after", "kind"), [(0.1, OomKind.CONTAINER), (-2.0, OomKind.CONTAINER), (8.0, OomKind.PROCESS)]
)
def test_oomkilled_and_137_make_the_last_kill_the_death_unless_it_came_long_before(
    killed_after: float, kind: OomKind
) -> None:
    # Recorded on Docker 26: a child killed at the start, the container `docker kill`ed 8 s
    # later (exit 137, OOMKilled true from the child's kill). No `die` reached the session.
    # Replayed with the kill told 0.1 s before the death, 2 s after it (stamped late by a busy
    # engine: the flag alone makes it the death), and 8 s before it (as recorded).
    [state] = parse_container_states(
        (FIXTURES / "inspect" / "docker26-oom-child-then-killed.json").read_text()
    )
    assert state.oom_killed and state.exit_code == 137 and state.finished_at is not None
    container = summary("dm-oom-child-killed26", cid=state.id)
    told_at = state.finished_at - timedelta(seconds=killed_after)
    j = judge()
    j.engine_event(at(0), "default", replace(event("oom", container, 0), time=told_at))
    j.settle(at(30), "default", [state])
    assert [kill.kind for kill in j.ledger.kills] == [kind]


def test_an_oomkilled_flag_from_before_the_session_is_not_its_kill() -> None:
    # The recorded container started at 19:07:48 on 2026-11-30, and a process of it was killed.
    states = parse_container_states((FIXTURES / "inspect" / "docker26-oom-child.json").read_text())
    started = states[0].started_at
    assert started is not None and states[0].finished_at is None
    # A session that began after it started (an `up` that left it running): the flag is old news.
    assert judge().settle(at(1), "default", states, since=started + timedelta(seconds=1)) == []
    # One that began before it started: the kill is this session's.
    [told] = judge().settle(at(1), "default", states, since=started - timedelta(seconds=1))
    assert told.type is EventType.OOM


def test_a_death_after_the_kernel_told_of_its_kill_says_it_was_oom_killed() -> None:
    # The kernel's record is read before any event named the container; its `die` comes next.
    events, [kernel_kill] = podman_start_kill()
    death = next(e for e in events if e.action == "die" and e.exit_code == 137)
    j = judge()
    j.tick(at(0), 0, host(), [engine()])
    assert j.kernel_kills(at(0.1), [kernel_kill]) == []  # whose container, nobody has said yet
    told = j.engine_event(at(0.2), "default", death)
    assert types(told) == ["oom", "exited"]
    assert told[1].message.endswith("exited with code 137 (OOM-killed)")


@pytest.mark.parametrize(
    ("killed_before", "told_late_by", "kind"),
    [(0.07, 0.1, OomKind.CONTAINER), (0.07, 8.0, OomKind.CONTAINER), (8.0, 8.0, OomKind.PROCESS)],
)
def test_a_death_is_the_kills_by_the_time_it_happened(
    killed_before: float, told_late_by: float, kind: OomKind
) -> None:
    # On a busy machine podman's `die` may reach the session seconds after the kernel's record
    # was read; the event still carries the time of the death. A kill 0.07 s before it (the
    # recording) was the death's cause, however late it is told; one 8 s before it (and a
    # `docker kill` then) was a process's.
    events, [kernel_kill] = podman_start_kill()
    death = next(e for e in events if e.action == "die" and e.exit_code == 137)
    kernel_kill = replace(kernel_kill, at=death.time - timedelta(seconds=killed_before))
    j = judge()
    j.tick(at(0), 0, host(), [engine()])
    for e in events[: events.index(death)]:
        j.engine_event(at(0.1), "default", e)
    j.kernel_kills(at(0.2), [kernel_kill])
    told = j.engine_event(at(0.2 + told_late_by), "default", death)
    cause = " (OOM-killed)" if kind is OomKind.CONTAINER else ""
    assert told[0].message == f"hog exited with code 137{cause}"
    assert [kill.kind for kill in j.ledger.kills] == [kind]


def child_killed_unannounced(counter: int | None) -> tuple[Judge, ContainerSummary]:
    """A child killed in a living container (recorded on Docker 20.10), told of by the kernel's
    log and the cgroup's counter (None: one dockermem cannot read) at once, and by no `oom`
    event yet: one kill, its event to come."""
    records = (FIXTURES / "kernel" / "docker-child.kmsg").read_bytes().splitlines(keepends=True)
    [kernel_kill] = parse_oom_kills([r for line in records if (r := parse_kmsg_record(line)) is not None])
    worker = summary(
        "shop-worker-1", "worker", cid=(FIXTURES / "kernel" / "docker-child.id").read_text().strip()
    )
    j = judge()
    j.tick(at(0), 0, host(), [engine(reading(worker, 60, 64, oom_kills=None if counter is None else 0))])
    assert types(j.kernel_kills(at(1), [kernel_kill])) == ["oom"]
    j.tick(at(1), 1, host(), [engine(reading(worker, 10, 64, oom_kills=counter))])
    return j, worker


def test_an_oom_event_told_late_is_of_the_kill_its_counter_already_showed() -> None:
    # Docker's `oom` event 8 s after the kill (dockerd was busy) waits for the container's
    # counter; read at once, it shows no kill beyond the one counted: the event was of it.
    j, worker = child_killed_unannounced(1)
    assert j.engine_event(at(9), "default", event("oom", worker, 9)) == []
    assert j.waits_for_counter("default", worker.id)
    assert j.counter_now(at(9), "default", worker.id, 1) == []
    assert not j.waits_for_counter("default", worker.id)
    assert j.ledger.told_by == (frozenset({"kernel log", "cgroup", "docker events"}),)
    # A tick that carries the counter's last full reading on does not change that.
    _, later = j.tick(at(10), 10, host(), [engine(reading(worker, 10, 64, oom_kills=1))])
    assert [e for e in later if e.type is EventType.OOM] == [] and len(j.ledger.kills) == 1
    # The next kill, told by its event first, is a kill of its own, at once.
    assert types(j.engine_event(at(21), "default", event("oom", worker, 21))) == ["oom"]
    assert not j.waits_for_counter("default", worker.id) and len(j.ledger.kills) == 2


def test_an_oom_event_counts_as_before_without_a_counter() -> None:
    # A counter dockermem cannot read: nothing tells a late event from a new kill; it counts.
    j, worker = child_killed_unannounced(None)
    assert types(j.engine_event(at(9), "default", event("oom", worker, 9))) == ["oom"]
    assert not j.waits_for_counter("default", worker.id) and len(j.ledger.kills) == 2


def test_an_oom_event_of_a_new_kill_is_not_taken_for_an_old_kills_late_word() -> None:
    # The first kill's event never came (docker told of two kills in one); 20 s later a new
    # kill's event comes before anything else saw it. The counter, read at once, shows the new
    # kill: the event was of it, and it is counted, once.
    j, worker = child_killed_unannounced(1)
    assert j.engine_event(at(21), "default", event("oom", worker, 21)) == []
    [new] = j.counter_now(at(21), "default", worker.id, 2)
    assert new.type is EventType.OOM and len(j.ledger.kills) == 2
    assert j.ledger.told_by[1] == {"cgroup", "docker events"}


def test_two_oom_events_at_once_are_the_late_one_and_the_new_one() -> None:
    # dockerd, busy, sends the first kill's event and a second kill's together, 15 s on.
    j, worker = child_killed_unannounced(1)
    assert j.engine_event(at(16), "default", event("oom", worker, 15.9)) == []
    assert types(j.counter_now(at(16), "default", worker.id, 2)) == ["oom"]
    assert j.engine_event(at(16), "default", event("oom", worker, 16)) == []
    assert j.counter_now(at(16), "default", worker.id, 2) == []
    assert len(j.ledger.kills) == 2
    assert all("docker events" in sources for sources in j.ledger.told_by)


def test_two_late_words_for_two_kills_are_two_kills() -> None:
    # Kill A (t=1) and kill B (t=12, the kernel's log at once), docker's words for both at
    # t=13: the first goes to B (within the window), the second waits; the counter, read
    # afresh, shows B, which was counted: the word was A's, told late. Two kills, not three.
    j, worker = child_killed_unannounced(1)
    [kernel_a] = [k for k in j.ledger.kills if k.kernel is not None]
    assert kernel_a.kernel is not None
    assert types(j.kernel_kills(at(12), [kernel_a.kernel])) == ["oom"]  # B, as the kernel logs it
    assert j.engine_event(at(13), "default", event("oom", worker, 13)) == []
    assert j.engine_event(at(13.01), "default", event("oom", worker, 13.01)) == []
    assert j.counter_now(at(13.01), "default", worker.id, 2) == []
    assert len(j.ledger.kills) == 2
    assert all(sources >= {"kernel log", "cgroup", "docker events"} for sources in j.ledger.told_by)


@pytest.mark.parametrize(("kernel_log_read", "kills"), [(True, 1), (False, 2)])
def test_a_late_word_whose_counter_is_gone_counts_by_the_kernels_log(
    kernel_log_read: bool, kills: int
) -> None:
    # The word comes 8 s late and the cgroup is gone when it is read (the main process was
    # killed). The kernel's log, read just before, told of every kill: the word was of the one
    # counted. Without it, nothing tells, and the word is a kill of its own.
    j, worker = child_killed_unannounced(1)
    assert j.engine_event(at(9), "default", event("oom", worker, 9)) == []
    j.counter_now(at(9), "default", worker.id, None, kernel_log_read=kernel_log_read)
    assert len(j.ledger.kills) == kills


@pytest.mark.parametrize(("died_after", "kills"), [(0.05, 2), (11.0, 1)])
def test_a_death_just_after_a_word_taken_as_late_makes_it_the_fatal_kill(
    died_after: float, kills: int
) -> None:
    # The first kill's event never came; a new kill's event comes while the counter does not
    # show it yet (cgroup v1 tells of an OOM before the kill), so it is taken for the first
    # kill's, late. The container dies with 137 just after: the word was of its fatal kill.
    # A death 11 s after the word (a `docker kill`) takes nothing back.
    j, worker = child_killed_unannounced(1)
    assert j.engine_event(at(21), "default", event("oom", worker, 21)) == []
    assert j.counter_now(at(21), "default", worker.id, 1) == []
    death = 21 + died_after
    told = j.engine_event(at(death), "default", event("die", worker, death, exit_code=137))
    assert len(j.ledger.kills) == kills
    if kills == 2:
        assert types(told) == ["oom", "exited"]
        assert told[1].message == "worker exited with code 137 (OOM-killed)"
        assert [kill.kind for kill in j.ledger.kills] == [OomKind.PROCESS, OomKind.CONTAINER]
    else:
        assert [e.message for e in told] == ["worker exited with code 137"]


@pytest.mark.parametrize("read_before_death", [True, False])
def test_an_oom_event_then_the_containers_death_is_a_kill_of_its_own(read_before_death: bool) -> None:
    # The new kill was of the main process: the cgroup is gone when the counter is read for
    # the event (None), or the `die` comes before it is read. Either way the event was of a
    # kill of its own, the fatal one.
    j, worker = child_killed_unannounced(1)
    assert j.engine_event(at(21), "default", event("oom", worker, 21)) == []
    told = j.counter_now(at(21), "default", worker.id, None) if read_before_death else []
    told += j.engine_event(at(21.1), "default", event("die", worker, 21.1, exit_code=137))
    assert types(told) == ["oom", "exited"]
    assert told[1].message == "worker exited with code 137 (OOM-killed)"
    assert [kill.kind for kill in j.ledger.kills] == [OomKind.PROCESS, OomKind.CONTAINER]


def podman_exited_hog() -> tuple[ContainerSummary, ContainerState, KernelOomKill]:
    """Podman 4.3's `hog`, PID 1 OOM-killed at its start: its state (exited with 137,
    `OOMKilled` false) and the kernel's record of the kill, at its wall time."""
    [state] = parse_container_states((FIXTURES / "inspect" / "podman-oom-pid1.json").read_text())
    records = (FIXTURES / "kernel" / "podman-compose-exited.kmsg").read_bytes().splitlines(keepends=True)
    [kill] = parse_oom_kills([r for line in records if (r := parse_kmsg_record(line)) is not None])
    monotonic_start = datetime(2026, 12, 1, 10, 39, 23, 465150, tzinfo=UTC)  # see the README
    kill = replace(kill, at=monotonic_start + timedelta(seconds=kill.at_seconds))
    return summary(state.name, state.service, state.project, cid=state.id), state, kill


@pytest.mark.parametrize(
    ("finished_after_kill", "kind"),
    [(None, OomKind.CONTAINER), (8.0, OomKind.PROCESS), (-2.0, OomKind.PROCESS)],
)
def test_an_exit_with_137_at_the_kill_makes_it_the_containers_at_the_end(
    finished_after_kill: float | None, kind: OomKind
) -> None:
    # No `die` reached the session (its events stream was down): the state at the end, exited
    # with 137 when the kernel killed its process (Podman leaves OOMKilled false), settles it;
    # the same state had it exited 8 s after the kill, or 2 s before it, does not.
    hog, state, kernel_kill = podman_exited_hog()
    assert state.exit_code == 137 and not state.oom_killed and state.finished_at is not None
    if finished_after_kill is not None:
        assert kernel_kill.at is not None
        state = replace(state, finished_at=kernel_kill.at + timedelta(seconds=finished_after_kill))
    j = judge()
    j.tick(at(0), 0, host(), [engine(reading(hog, 30, 32))])
    [oom] = j.kernel_kills(at(1), [kernel_kill])
    assert j.settle(at(30), "default", [state]) == []  # the kill counted once
    [kill] = j.ledger.kills
    assert kill.kind is kind


def test_of_two_kills_before_a_death_with_137_the_last_was_the_containers() -> None:
    # A child killed 3 s before the main process: both within the window of the exit, only
    # the last was the container's death.
    hog, state, fatal = podman_exited_hog()
    assert fatal.at is not None
    child = replace(fatal, at=fatal.at - timedelta(seconds=3))
    j = judge()
    j.tick(at(0), 0, host(), [engine(reading(hog, 30, 32))])
    assert types(j.kernel_kills(at(1), [child])) == ["oom"]
    assert types(j.kernel_kills(at(4), [fatal])) == ["oom"]
    j.settle(at(30), "default", [state])
    assert [kill.kind for kill in j.ledger.kills] == [OomKind.PROCESS, OomKind.CONTAINER]


def test_a_kill_by_the_hosts_oom_killer_names_the_hosts_memory() -> None:
    lines = (FIXTURES / "kernel" / "documented-host-oom.dmesg").read_text().splitlines()
    [kernel_kill] = parse_oom_kills([r for line in lines if (r := parse_dmesg_line(line)) is not None])
    worker = summary("shop-worker-1", "worker", cid=kernel_kill.container_id or "")
    j = judge()
    j.tick(at(0), 0, host(97.0), [engine(reading(worker, 900))])
    [oom] = j.kernel_kills(at(1), [kernel_kill])
    assert oom.details["constraint"] == "host"
    assert oom.details["host_memory_used_bytes"] == int(16 * GIB * 0.97)
    [kill] = j.ledger.kills
    assert "by the host's OOM killer: the machine ran out of memory (the host at 15.5GiB of 16.0GiB)" in (
        kill.describe()
    )


def test_a_kill_names_what_else_the_container_held() -> None:
    records = (FIXTURES / "kernel" / "docker-two.kmsg").read_bytes().splitlines(keepends=True)
    second = parse_oom_kills([r for line in records if (r := parse_kmsg_record(line)) is not None])[1]
    worker = summary("shop-worker-1", "worker", cid=second.container_id or "")
    j = judge()
    j.tick(at(0), 0, host(), [engine(reading(worker, 20, 64))])
    j.kernel_kills(at(1), [second])
    [kill] = j.ledger.kills
    assert kill.describe().endswith(
        ": process memhog (pid 10260, 43.4MiB RSS) at 64.0MiB of its 64.0MiB limit;"
        " also held: memhog 20.1MiB, sleep 112KiB"
    )


def test_peaks_are_listed_by_name_as_people_sort_them() -> None:
    j = judge()
    replicas = [reading(summary(f"shop-worker-{n}", "worker"), 10) for n in (10, 2, 1)]
    j.tick(at(0), 0, host(), [engine(*replicas)])
    assert [peak.name for peak in j.peak_list] == ["shop-worker-1", "shop-worker-2", "shop-worker-10"]


def test_service_peaks_come_by_service_in_name_order_with_each_service_s_kills() -> None:
    peaks = (
        ContainerPeak("default", "shop-worker-10-1", "shop", "worker-10", 30 * MIB, None),
        ContainerPeak("default", "shop-worker-2-1", "shop", "worker-2", 20 * MIB, None, oom_kills=1),
        ContainerPeak("default", "shop-worker-2-2", "shop", "worker-2", 25 * MIB, 64 * MIB, oom_kills=1),
        ContainerPeak("default", "job-1", None, None, 5 * MIB, None),
    )
    service_peaks = SessionSummary(1.0, peaks, oom_seen=True, emergency_seen=False).service_peaks()
    assert list(service_peaks) == ["job-1", "worker-2", "worker-10"]
    assert (service_peaks["worker-2"].peak_bytes, service_peaks["worker-2"].oom_kills) == (25 * MIB, 2)
