"""Host CPU over a window, dockermem's own work left out: replayed from recorded marks."""

from __future__ import annotations

from dockermem.core.host import (
    HostCpuMarks,
    busy_percent_between,
    parse_cpu_seconds,
    parse_meminfo,
    read_host_memory,
)


def test_own_work_is_left_out_of_the_busy_share() -> None:
    # 2 CPUs over 0.5 s: 1.0 s of CPU time, 0.8 s busy, of which 0.55 s was dockermem's own
    # (its process and the docker commands it ran): the others kept 25 % busy.
    start = HostCpuMarks(total=1000.0, busy=400.0, own=2.0)
    end = HostCpuMarks(total=1001.0, busy=400.8, own=2.55)
    assert busy_percent_between(start, end) == 25.0


def test_a_window_without_time_and_rounding_past_the_bounds() -> None:
    mark = HostCpuMarks(total=10.0, busy=5.0, own=1.0)
    assert busy_percent_between(mark, mark) == 0.0
    # Ticks are counted per CPU and per process apart: own time can outrun the busy time seen.
    assert busy_percent_between(mark, HostCpuMarks(total=11.0, busy=5.1, own=1.3)) == 0.0
    assert busy_percent_between(mark, HostCpuMarks(total=11.0, busy=6.2, own=1.0)) == 100.0


def test_marks_now_are_consistent() -> None:
    mark = HostCpuMarks.now()
    assert mark.total > mark.busy >= 0 and mark.own >= 0


# Recorded on the test machine (Linux 6.1, 2 CPUs): the lines the parsers read, among others.
MEMINFO = """MemTotal:       24683656 kB
MemFree:        22795680 kB
MemAvailable:   23584084 kB
Buffers:           98304 kB
"""
PROC_STAT = """cpu  1552919 683 659906 6003588 27155 0 13962 53522 0 0
cpu0 566995 310 317803 3230555 7965 0 3881 27199 0 0
intr 123 0 0
"""


def test_meminfo_gives_total_and_available_in_bytes() -> None:
    assert parse_meminfo(MEMINFO) == (24683656 * 1024, 23584084 * 1024)


def test_meminfo_without_mem_available_is_left_to_psutil() -> None:
    # Linux before 3.14 has no MemAvailable: psutil estimates it.
    assert parse_meminfo("MemTotal: 1000 kB\nMemFree: 500 kB\n") is None
    assert parse_meminfo("") is None


def test_proc_stat_gives_all_and_busy_cpu_seconds() -> None:
    total_ticks = 1552919 + 683 + 659906 + 6003588 + 27155 + 0 + 13962 + 53522
    idle_ticks = 6003588 + 27155  # idle and iowait
    total, busy = parse_cpu_seconds(PROC_STAT, 100) or (0.0, 0.0)
    assert total == total_ticks / 100
    assert busy == (total_ticks - idle_ticks) / 100


def test_guest_time_is_not_counted_twice() -> None:
    # Guest ticks (the ninth and tenth fields) are in user time already.
    with_guest = "cpu  100 0 50 800 50 0 0 0 40 10\n"
    assert parse_cpu_seconds(with_guest, 100) == (10.0, 1.5)
    assert parse_cpu_seconds("cpu0 1 2 3 4\n", 100) is None


def test_the_figures_from_proc_are_psutils() -> None:
    # The same figures psutil gives: memory total equal, CPU totals within a moment's ticks.
    import psutil

    memory = read_host_memory(cpu_percent=0.0)
    assert memory.memory_total_bytes == psutil.virtual_memory().total
    assert abs(memory.memory_available_bytes - psutil.virtual_memory().available) < 256 * 1024**2
    mark, times = HostCpuMarks.now(), psutil.cpu_times()
    psutil_total = sum(times) - times.guest - times.guest_nice
    assert abs(mark.total - psutil_total) < 5.0
    assert abs(mark.busy - (psutil_total - times.idle - times.iowait)) < 5.0
