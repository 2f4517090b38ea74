"""The plugin's arithmetic and rules under pytest-xdist, on a clock the test sets: how many
workers fit by memory, and which test a kill is laid on when several workers run at once."""

from __future__ import annotations

from datetime import timedelta

from dockermem.core.events import Event, EventType
from dockermem.core.fit import WorkerPlan, WorkerSize
from dockermem.pytest_plugin import _plan_line
from dockermem.suite import WorkerTimeline
from tests.builders import GIB, MIB, START

T0 = START.timestamp()


def plan(per_worker: WorkerSize | None, wanted: int = 8, stacks: bool = False) -> WorkerPlan:
    return WorkerPlan("shop", budget_bytes=int(11.5 * GIB), stack_bytes=int(4.1 * GIB),
                      per_worker=per_worker, wanted=wanted, per_worker_stacks=stacks)  # fmt: skip


def test_workers_are_what_fits_beside_the_stack_never_more_than_wanted_nor_fewer_than_one() -> None:
    recorded = WorkerSize(int(2.3 * GIB), "recorded", runs=5, peak_bytes=int(1.7 * GIB))
    assert (plan(recorded).fitting, plan(recorded).workers) == (3, 3)  # 7.4 GiB // 2.3 GiB
    assert plan(recorded, wanted=2).workers == 2
    assert _plan_line(plan(recorded), "auto") == (
        "dockermem: -n auto -> 3 workers: (11.5GiB budget - 4.10GiB stack) / 2.30GiB per worker "
        "(peak of 5 recorded runs)"
    )
    too_big = plan(WorkerSize(8 * GIB, "given"))
    assert (too_big.fitting, too_big.workers, too_big.fits) == (0, 1, False)


def test_without_a_worker_size_xdist_pick_stands_and_the_header_says_why() -> None:
    unknown = plan(None, wanted=2)
    assert (unknown.fitting, unknown.workers, unknown.fits) == (None, 2, True)
    assert "no per-worker size is known" in _plan_line(unknown, "auto")


def test_an_explicit_count_that_does_not_fit_is_warned_of() -> None:
    given = plan(WorkerSize(512 * MIB, "given"), wanted=20)
    assert _plan_line(given, "given").startswith("dockermem: WARNING: -n 20 but only 14 fit: (11.5GiB budget")


def test_a_stack_per_worker_counts_the_stack_once_per_worker() -> None:
    each = plan(WorkerSize(512 * MIB, "given"), wanted=3, stacks=True)
    assert each.fitting == 2  # 11.5 GiB // (4.1 GiB + 0.5 GiB)
    assert each.arithmetic() == "11.5GiB budget / (4.10GiB stack + 512MiB per worker)"


def oom(seconds: float, service: str = "worker") -> Event:
    return Event(EventType.OOM, START + timedelta(seconds=seconds), "default", f"x-{service}-1", "OOM kill",
                 service=service)  # fmt: skip


def test_a_kill_is_laid_on_the_test_that_started_last_and_names_the_others() -> None:
    timeline = WorkerTimeline(interval_seconds=0.25)
    timeline.setup_reported("gw0", "t.py::test_list", T0 + 1)
    timeline.setup_reported("gw1", "t.py::test_big_export", T0 + 3)
    timeline.event(oom(4))
    [blame] = timeline.blames
    assert blame.describe() == (
        "worker was OOM-killed while gw1 ran t.py::test_big_export (gw0 ran t.py::test_list)"
    )
    assert timeline.carried_by("t.py::test_list") == []
    assert [b.describe() for b in timeline.carried_by("t.py::test_big_export")] == [blame.describe()]
    assert timeline.uncarried() == []


def test_a_test_that_ended_within_an_interval_of_the_kill_is_named_and_others_are_not() -> None:
    timeline = WorkerTimeline(interval_seconds=0.5)
    timeline.setup_reported("gw0", "t.py::test_a", T0)
    timeline.teardown_reported("gw0", "t.py::test_a", T0 + 2)
    timeline.setup_reported("gw1", "t.py::test_old", T0)
    timeline.teardown_reported("gw1", "t.py::test_old", T0 + 1)
    timeline.event(oom(2.4))  # test_a ended 0.4 s before; test_old 1.4 s before
    [blame] = timeline.blames
    assert (blame.blamed.nodeid, blame.beside) == ("t.py::test_a", ())
    assert [b.blamed.nodeid for b in timeline.uncarried()] == ["t.py::test_a"]


def test_a_kill_while_no_test_runs_is_laid_on_none() -> None:
    timeline = WorkerTimeline(interval_seconds=0.25)
    timeline.event(oom(1))
    timeline.event(Event(EventType.LEAK, START, "default", "c", "api: +12.0 MiB/min", service="api"))
    assert timeline.blames == [] and timeline.leaks == {"api": "api: +12.0 MiB/min"}


def test_the_others_are_named_in_their_workers_order() -> None:
    # gw2 before gw10, as pytest-xdist numbers them.
    timeline = WorkerTimeline(interval_seconds=0.25)
    for worker in ("gw10", "gw2", "gw1"):
        timeline.setup_reported(worker, f"t.py::test_on_{worker}", T0 + 1)
    timeline.setup_reported("gw0", "t.py::test_last", T0 + 3)
    timeline.event(oom(4))
    [blame] = timeline.blames
    assert [test.worker for test in blame.beside] == ["gw1", "gw2", "gw10"]
