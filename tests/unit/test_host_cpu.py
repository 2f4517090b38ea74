"""Host CPU over a window, dockermem's own work left out: replayed from recorded marks."""

from __future__ import annotations

from dockermem.core.host import CpuMarks, busy_percent_between


def test_own_work_is_left_out_of_the_busy_share() -> None:
    # 2 CPUs over 0.5 s: 1.0 s of CPU time, 0.8 s busy, of which 0.55 s was dockermem's own
    # (its process and the docker commands it ran): the others kept 25 % busy.
    start = CpuMarks(total=1000.0, busy=400.0, own=2.0)
    end = CpuMarks(total=1001.0, busy=400.8, own=2.55)
    assert busy_percent_between(start, end) == 25.0


def test_a_window_without_time_and_rounding_past_the_bounds() -> None:
    mark = CpuMarks(total=10.0, busy=5.0, own=1.0)
    assert busy_percent_between(mark, mark) == 0.0
    # Ticks are counted per CPU and per process apart: own time can outrun the busy time seen.
    assert busy_percent_between(mark, CpuMarks(total=11.0, busy=5.1, own=1.3)) == 0.0
    assert busy_percent_between(mark, CpuMarks(total=11.0, busy=6.2, own=1.0)) == 100.0


def test_marks_now_are_consistent() -> None:
    mark = CpuMarks.now()
    assert mark.total > mark.busy >= 0 and mark.own >= 0
