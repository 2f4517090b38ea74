"""The kernel's OOM lines, as recorded here (6.18: Docker 20.10, Docker 26, Podman) and as
documented for 5.4 and for the host's own OOM killer: each kill once, with its process, its
container and the cgroup's memory at that moment."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from dockermem.clock import ManualClock
from dockermem.kernel.kmsg import KernelLog, logged_kills
from dockermem.kernel.oom_log import (
    KernelOomKill,
    KernelRecord,
    OomLogParser,
    parse_dmesg_line,
    parse_kmsg_record,
    parse_oom_kills,
)
from tests.builders import START
from tests.conftest import FIXTURES

KERNEL = FIXTURES / "kernel"
MIB = 1024**2


def kmsg_records(name: str) -> list[KernelRecord]:
    lines = (KERNEL / name).read_bytes().splitlines(keepends=True)
    return [record for line in lines if (record := parse_kmsg_record(line)) is not None]


def dmesg_records(name: str) -> list[KernelRecord]:
    lines = (KERNEL / name).read_text().splitlines()
    return [record for line in lines if (record := parse_dmesg_line(line)) is not None]


def recorded_id(name: str) -> str:
    return (KERNEL / f"{name}.id").read_text().strip()


@pytest.mark.parametrize(
    ("name", "parent"),
    [
        ("podman-pid1", "/libpod_parent/libpod-"),
        ("docker26-pid1", "/docker26/"),
        ("docker-child", "/docker/"),
    ],
)
def test_a_container_kill_names_its_container_process_and_limit(name: str, parent: str) -> None:
    [kill] = parse_oom_kills(kmsg_records(f"{name}.kmsg"))
    assert kill.container_id == recorded_id(name)
    assert kill.task_memcg == parent + recorded_id(name)
    assert kill.constraint == "CONSTRAINT_MEMCG" and not kill.host_wide
    assert kill.process.name == "memhog"
    assert kill.cgroup_limit_bytes in (32 * MIB, 64 * MIB)
    assert kill.cgroup_usage_bytes == kill.cgroup_limit_bytes  # it was at its limit
    # memhog held nearly all of the limit; the dump holds it too, by its pid.
    assert kill.cgroup_limit_bytes is not None and kill.process.rss_bytes > 0.9 * kill.cgroup_limit_bytes
    assert kill.process.pid in {task.pid for task in kill.tasks}


def test_two_kills_in_one_container_are_two_with_their_own_dumps() -> None:
    first, second = parse_oom_kills(kmsg_records("docker-two.kmsg"))
    assert first.container_id == second.container_id == recorded_id("docker-two")
    assert (first.process.pid, second.process.pid) == (10259, 10260)
    assert first.process.anon_rss_bytes == 30720 * 1024
    # The second dump no longer holds the first kill's process.
    assert 10259 not in {task.pid for task in second.tasks}
    assert [task.name for task in second.top_tasks()] == ["memhog", "sleep"]
    assert second.top_tasks()[0].rss_bytes == 5138 * 4096


def test_the_5_4_format_without_the_split_rss_columns() -> None:
    [kill] = parse_oom_kills(dmesg_records("documented-5.4-memcg.dmesg"))
    assert kill.container_id == "3f4d8e2c1b0a99887766554433221100ffeeddccbbaa99887766554433221100"
    assert (kill.process.pid, kill.process.name) == (4242, "stress")
    assert kill.cgroup_usage_bytes == kill.cgroup_limit_bytes == 256 * MIB
    assert [(task.name, task.rss_bytes) for task in kill.tasks][0] == ("stress", 64522 * 4096)


def test_the_hosts_own_oom_killer_is_told_apart() -> None:
    [kill] = parse_oom_kills(dmesg_records("documented-host-oom.dmesg"))
    assert kill.host_wide and kill.constraint == "CONSTRAINT_NONE"
    assert kill.container_id == "7d1e0c3b5a2f4e6d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d"
    assert kill.cgroup_limit_bytes is None  # no cgroup's limit was hit
    assert kill.process.anon_rss_bytes == 15247000 * 1024


def test_a_truncated_kill_gives_nothing_and_does_not_spoil_the_next() -> None:
    records = kmsg_records("docker-two.kmsg")
    cut = next(i for i, r in enumerate(records) if r.text.startswith("oom-kill:"))
    # The first kill loses its last line; the second is whole.
    kills = parse_oom_kills(records[:cut] + records[cut + 2 :])
    assert [kill.process.pid for kill in kills] == [10260]


def test_a_kill_line_alone_is_still_a_kill() -> None:
    line = (
        "Memory cgroup out of memory: Killed process 77 (dd) total-vm:3292kB, anon-rss:896kB, "
        "file-rss:828kB, shmem-rss:0kB, UID:0 pgtables:44kB oom_score_adj:0"
    )
    kill = OomLogParser().feed(KernelRecord(1, 10.0, line))
    assert kill is not None and kill.process.name == "dd" and kill.container_id is None
    assert kill.process.rss_bytes == (896 + 828) * 1024


KILLED_77 = (
    "Memory cgroup out of memory: Killed process 77 (dd) total-vm:3292kB, anon-rss:896kB, "
    "file-rss:828kB, shmem-rss:0kB, UID:0 pgtables:44kB oom_score_adj:0"
)
ID_A = "a" * 64
OOM_KILL_OF = "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),task_memcg=/docker/{id},task=dd,pid={pid}"


def feed_lines(lines: list[tuple[float, str]]) -> list[KernelOomKill]:
    parser = OomLogParser()
    return [kill for at, text in lines if (kill := parser.feed(KernelRecord(None, at, text))) is not None]


def test_what_was_read_of_another_process_is_not_joined_to_a_kill() -> None:
    # An invocation that ended without its kill line, then a kill line for another pid.
    [kill] = feed_lines([
        (1.0, "dd invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"),
        (1.0, "memory: usage 65536kB, limit 65536kB, failcnt 0"),
        (1.0, OOM_KILL_OF.format(id=ID_A, pid=76)),
        (2.0, KILLED_77),
    ])  # fmt: skip
    assert kill.process.pid == 77
    assert (kill.container_id, kill.cgroup_limit_bytes, kill.tasks) == (None, None, ())


def test_an_invocation_the_kernel_gave_up_on_is_forgotten() -> None:
    [kill] = feed_lines([
        (1.0, "dd invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"),
        (1.0, "memory: usage 65536kB, limit 65536kB, failcnt 0"),
        (1.0, "Task 77 (dd) is already exiting. Skip killing the task"),
        (1.5, KILLED_77),
    ])  # fmt: skip
    assert kill.cgroup_limit_bytes is None


def test_a_slow_dump_counts_its_span_from_its_latest_line() -> None:
    # A dump of thousands of tasks on a slow console takes longer than the span, line by line.
    header = "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"
    rows = [
        (1.0 + index, f"[ {100 + index:6}]     0  {100 + index}  1000  {10 + index}  4096  0  0 sh")
        for index in range(8)
    ]
    [kill] = feed_lines([
        (1.0, "dd invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"),
        (1.0, "memory: usage 65536kB, limit 65536kB, failcnt 0"),
        (1.0, "Tasks state (memory values in pages):"),
        (1.0, header),
        *rows,
        (9.5, OOM_KILL_OF.format(id=ID_A, pid=77)),
        (9.5, KILLED_77),
    ])  # fmt: skip
    assert kill.container_id == ID_A and kill.cgroup_limit_bytes == 64 * MIB
    # Only the largest are kept while the dump is read.
    assert [task.pid for task in kill.tasks] == [107, 106, 105, 104]
    assert [task.pid for task in kill.top_tasks()] == [107, 106, 105]


def test_a_name_in_utf_8_is_read_whole() -> None:
    record = parse_kmsg_record(
        b"3,9,1000,-;Memory cgroup out of memory: Killed process 77 (\\xc3\\xa9t\\xc3\\xa9) total-vm:3292kB, "
        b"anon-rss:896kB, file-rss:828kB, shmem-rss:0kB, UID:0 pgtables:44kB oom_score_adj:0\n"
    )
    assert record is not None
    kill = OomLogParser().feed(record)
    assert kill is not None and kill.process.name == "\u00e9t\u00e9"


@pytest.mark.parametrize("raw", [b"", b"garbage", b"6,x,1,-;text\n", b"6,1;no fields\n"])
def test_a_record_that_is_not_one_is_none(raw: bytes) -> None:
    assert parse_kmsg_record(raw) is None


def test_the_reader_follows_from_where_it_opened_and_dates_each_kill(tmp_path: Path) -> None:
    log = tmp_path / "kmsg"
    records = (KERNEL / "docker-two.kmsg").read_bytes()
    log.write_bytes(records)  # kills from before the session: not news
    first_kill = next(r for r in kmsg_records("docker-two.kmsg") if r.text.startswith("Memory cgroup out"))
    clock = ManualClock(START, monotonic_start=first_kill.at_seconds + 3)
    with KernelLog(log, clock) as reader:
        assert reader.read_kills() == []
        with log.open("ab") as out:
            out.write(records)
        kills = reader.read_kills()
        assert [kill.process.pid for kill in kills] == [10259, 10260]
        assert kills[0].at is not None and round((START - kills[0].at).total_seconds(), 3) == 3.0
        assert reader.read_kills() == []


def test_an_unreadable_log_says_why_once(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        missing = tmp_path / "no-such-kmsg"
        reader = KernelLog(missing).open()
    else:  # pragma: no cover - the suite runs as root in CI
        reader = KernelLog(Path("/dev/kmsg")).open()
    assert not reader.readable and reader.read_kills() == []
    assert reader.notice is not None and reader.notice.startswith("the kernel log cannot be read (")


def test_a_recorded_log_read_in_small_pieces_loses_no_kill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file is read in pieces that cut records in two; /dev/kmsg gives one record a read.
    monkeypatch.setattr("dockermem.kernel.kmsg.READ_SIZE", 97)
    log = tmp_path / "kmsg"
    log.write_bytes((KERNEL / "docker-two.kmsg").read_bytes())
    kills, notice = logged_kills(log)
    assert notice is None and [kill.process.pid for kill in kills] == [10259, 10260]


def test_a_post_mortem_reads_the_whole_log_and_its_last_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More records than a session reads a tick, and a last line with no newline after it.
    monkeypatch.setattr("dockermem.kernel.kmsg.MAX_RECORDS_PER_READ", 3)
    log = tmp_path / "kmsg"
    log.write_bytes((KERNEL / "docker-two.kmsg").read_bytes().rstrip(b"\n"))
    monkeypatch.setattr("dockermem.kernel.kmsg.READ_SIZE", 200)
    kills, notice = logged_kills(log)
    assert notice is None and [kill.process.pid for kill in kills] == [10259, 10260]


def test_a_busy_log_is_read_past_its_other_lines_with_each_kill_whole(tmp_path: Path) -> None:
    # Network messages before and after the kills (skipped, unparsed), and at the end a kill
    # whose first lines were lost: its `Killed process` line alone still makes it.
    noise = b"".join(
        b"6,%d,%d,-;br-3f2a1c: port 1(veth%x) entered blocking state\n SUBSYSTEM=net\n" % (n, n, n)
        for n in range(50)
    )
    recorded = (KERNEL / "docker-two.kmsg").read_bytes()
    log = tmp_path / "kmsg"
    log.write_bytes(noise + recorded + noise + b"3,99999,99000000,-;" + KILLED_77.encode() + b"\n")
    kills, notice = logged_kills(log)
    page_size = os.sysconf("SC_PAGE_SIZE")  # the reader's: the dumps' task sizes are in pages
    lone = OomLogParser(page_size).feed(KernelRecord(99999, 99.0, KILLED_77))
    assert notice is None and lone is not None
    recorded_kills = parse_oom_kills(kmsg_records("docker-two.kmsg"), page_size)
    assert [replace(kill, at=None) for kill in kills] == [*recorded_kills, lone]
    assert all(kill.cgroup_limit_bytes == 64 * MIB and kill.tasks for kill in kills[:2])
