"""The report as a terminal of 80 and of 160 columns shows it, from a history built here on the
recorded 90 s watch run (a leaking service and one holding still) under a long project name:
names whole, the advice on one line, the leak advice in full, round ticks on the chart."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from dockermem.clock import ManualClock
from dockermem.core.history import HistoryStore
from dockermem.render.report import build_report, build_terminal_chart, time_ticks, value_ticks
from tests.recorded import record_history

START = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
SINCE = START - timedelta(hours=1)
PROJECT = "dockermem-test-3f2a9c1b"
LEAK_ADVICE = "leak: +59.6 MiB/min seen by watch; fix the leak, no limit advised"


def screen(tmp_path: Path, width: int, projects: tuple[str, ...] = (PROJECT,)) -> str:
    clock = ManualClock(START)
    with HistoryStore(tmp_path / "history.sqlite3", min_interval_seconds=0, clock=clock) as store:
        for project in projects:
            record_history(store, "watch-90s-leak", project, clock)
        report = build_report(store.service_report(SINCE), SINCE, store.series(SINCE))
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(report)
    return console.export_text()


def table_rows(text: str) -> dict[str, list[str]]:
    """The table's rows by service: the cells split on runs of spaces."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if match := re.match(r"^ (leaky|steady) +\d", line):
            rows.setdefault(match.group(1), re.split(r" {2,}", line.strip()))
    return rows


@pytest.mark.parametrize("width", [80, 160])
def test_the_report_fits_its_width_with_names_whole(tmp_path: Path, width: int) -> None:
    text = screen(tmp_path, width)
    assert all(len(line) <= width for line in text.splitlines())
    assert "…" not in text  # nothing cut
    assert text.splitlines()[1] == f"project {PROJECT}"  # the project once, in the header
    rows = table_rows(text)
    assert rows["leaky"] == ["leaky", "1", "18", "111MiB", "too few", "512MiB", "0", "fix the leak"]
    assert rows["steady"] == ["steady", "1", "18", "40.7MiB", "too few", "128MiB", "0", "lower to 64.0MiB"]
    assert PROJECT not in text.split("\n", 2)[2]  # not repeated on the rows, notes or legend
    notes = " ".join(text.split())
    assert f"leaky: {LEAK_ADVICE}" in notes
    assert "p95 not given: too few samples (18 < 20)" in notes
    assert "raise" not in text  # a leak is never answered with a bigger limit


@pytest.mark.parametrize("width", [80, 160])
def test_the_chart_has_round_ticks_that_differ_and_a_legend_of_its_own(tmp_path: Path, width: int) -> None:
    text = screen(tmp_path, width)
    chart = text[text.index("Memory over time (MiB, UTC)") :].splitlines()
    axis = next(line for line in chart if "14:01" in line)
    labels = axis.split()
    assert len(labels) == len(set(labels)) >= 3  # every label differs
    step = 10 if width == 160 else 30  # seconds: a 90 s window
    assert all(int(label[-2:]) % step == 0 for label in labels), labels
    y_labels = [line.split("┤")[0].strip() for line in chart if "┤" in line]
    assert y_labels == ["150", "100", "50", "0"]
    legend = chart[-1]
    assert legend.split() == ["⣿⣿", "leaky", "xx", "steady"]  # under the chart, by service
    plot = chart[: chart.index(axis)]
    assert not any("leaky" in line or "steady" in line for line in plot)  # no name on a line


def test_two_projects_get_a_table_each_and_their_names_in_the_notes(tmp_path: Path) -> None:
    text = screen(tmp_path, 80, projects=("shop", "shop-two"))
    titles = [line.strip() for line in text.splitlines() if line.startswith("MEMORY BY SERVICE")]
    assert titles == ["MEMORY BY SERVICE  project shop", "MEMORY BY SERVICE  project shop-two"]
    assert text.count(" leaky ") == 2 and "…" not in text
    assert f"shop/leaky: {LEAK_ADVICE}" in " ".join(text.split())
    assert f"shop-two/leaky: {LEAK_ADVICE}" in " ".join(text.split())


def test_time_ticks_take_a_round_step_from_the_window() -> None:
    def labels(seconds: float, ticks: int, start: datetime = START) -> list[str]:
        return [label for _, label in time_ticks(start, start + timedelta(seconds=seconds), ticks)]

    assert labels(90, 6) == ["14:00:00", "14:00:30", "14:01:00", "14:01:30"]
    assert labels(90, 12) == [f"14:0{m}:{s}0" for m in range(2) for s in range(6)][:10]
    assert labels(3600, 6) == ["14:00", "14:15", "14:30", "14:45", "15:00"]
    assert labels(2 * 86400, 6) == ["21/11 00:00", "21/11 12:00", "22/11 00:00", "22/11 12:00"]
    assert labels(7 * 86400, 6) == ["21/11", "22/11", "23/11", "24/11", "25/11", "26/11", "27/11"][::2]
    assert labels(60, 6, START + timedelta(seconds=7)) == ["14:00:15", "14:00:30", "14:00:45", "14:01:00"]


def test_value_ticks_are_round_and_reach_the_top() -> None:
    assert value_ticks(152.9) == [0, 50, 100, 150, 200]
    assert value_ticks(111, 4) == [0, 50, 100, 150]
    assert value_ticks(0.4) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert value_ticks(25.8) == [0, 10, 20, 30]


def test_each_series_has_a_colour_of_its_own() -> None:
    series = {f"s{index}": [(START + timedelta(seconds=5 * step), (10 * index + step) * 1024**2)
                            for step in range(18)] for index in range(4)}  # fmt: skip
    console = Console(width=80, file=io.StringIO(), color_system="256", record=True)
    console.print(build_terminal_chart(series, 80))
    colours = set(re.findall(r"\x1b\[38;5;(\d+)m", console.export_text(styles=True)))
    assert len(colours) == 4
