"""`watch`'s live view rendered to text at 80 and 160 columns from recorded frames: names that
never read alike, the most urgent row first, one line per container, the rows that do not fit
counted, and sparklines drawn against the limit."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta

import pytest
from rich.console import Console, RenderableType

from dockermem.core.events import Event, EventType, Frame, WatchedContainer
from dockermem.core.thresholds import ThresholdLevel, Thresholds
from dockermem.render.watch import ViewSettings, build_watch_view, distinct_cuts, sparkline
from dockermem.render.watch_state import SortOrder, ViewState, row_key, short_name
from tests.builders import MIB, START, frame, watched

HEIGHT = 24


def text_at(renderable: RenderableType, width: int, height: int = HEIGHT) -> list[str]:
    console = Console(width=width, height=height, record=True, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text().rstrip("\n").split("\n")


def course(*mib: float) -> tuple[int, ...]:
    return tuple(int(value * MIB) for value in mib)


def steady(name: str, service: str, project: str = "dockermem-demo") -> WatchedContainer:
    """Holding still at 61.7 to 61.8 MiB of 128 MiB."""
    row = watched(name, service, 61.8, 128, project=project)
    return replace(row, recent_usage=course(*([61.7, 61.8] * 10)))


def growing(name: str, service: str, mib: float, project: str = "dockermem-demo") -> WatchedContainer:
    row = watched(name, service, mib, 128, project=project)
    return replace(row, recent_usage=course(*range(20, int(mib), 4)), trend_mib_per_minute=12.0, leaking=True,
                   seconds_to_limit=240.0)  # fmt: skip


def issue_22_frame() -> Frame:
    """What the issue showed: two projects (so rows carry container names), names alike up to the
    cut, a leak beside steady containers, one CRITICAL container, more rows than 24 lines hold."""
    rows = [steady(f"dockermem-demo-worker-{n}", "worker") for n in range(1, 21)]
    rows += [
        growing("uxgrow-growing-fast-1", "growing-fast", 70.0, project="uxgrow"),
        growing("uxgrow-growing-slow-1", "growing-slow", 40.0, project="uxgrow"),
        watched("dockermem-demo-db-1", "db", 100.0, 128, project="dockermem-demo"),  # 78 %: CRITICAL
        replace(watched("dockermem-demo-cache-1", "cache", 300.0, None), recent_usage=course(299.5, 300)),
    ]
    return frame(*rows)


def row_lines(lines: list[str], first_row: int = 4) -> list[str]:
    """The table's rows: after the three header lines and the table's header, up to the footer."""
    rows = []
    for line in lines[first_row:]:
        if not line.strip() or line.startswith(("…", "*")) or line[:1].isdigit():
            break
        rows.append(line)
    return rows


@pytest.mark.parametrize("width", [80, 160])
def test_no_two_rows_show_the_same_cut_name(width: int) -> None:
    view = build_watch_view(issue_22_frame(), ViewState(sort=SortOrder.NAME), [], ViewSettings(width, 60))
    names = [line.split()[0] for line in row_lines(text_at(view.renderable, width, 60))]
    assert len(names) == 24
    assert len(set(names)) == len(names), names


def test_cuts_of_names_alike_up_to_the_cut_show_where_they_differ() -> None:
    labels = ["uxgrow-growing-fast-1", "uxgrow-growing-slow-1", "uxgrow-growing-fast-2"]
    cuts = distinct_cuts(labels, 9)
    assert len(set(cuts)) == 3 and all(len(cut) <= 9 for cut in cuts), cuts
    assert distinct_cuts(["same-name", "same-name"], 4) == ["sa…e", "sa…e"]  # one name on two engines


def test_rows_name_the_service_and_replica_and_the_header_names_the_project_once() -> None:
    shop = frame(watched("shop-api-1", "api", 10, 64), watched("shop-api-2", "api", 10, 64),
                 watched("pinned", "worker", 10, 64))  # fmt: skip
    assert [short_name(row, "shop") for row in shop.containers] == ["api-1", "api-2", "pinned"]
    lines = text_at(build_watch_view(shop, ViewState(), [], ViewSettings(80, HEIGHT)).renderable, 80)
    assert "project shop" in lines[0]
    assert sum("shop" in line for line in lines) == 1


@pytest.mark.parametrize("width", [80, 160])
def test_the_most_urgent_row_comes_first(width: int) -> None:
    view = build_watch_view(issue_22_frame(), ViewState(), [], ViewSettings(width, HEIGHT))
    rows = row_lines(text_at(view.renderable, width))
    assert rows[0].split()[0] == "dockermem-demo-db-1"
    assert "CRIT" in rows[0] or "critical" in rows[0]
    # Then the leaking ones (both SAFE or WARNING by memory), the faster-filling first.
    assert [row.split()[0] for row in rows[1:3]] == ["uxgrow-growing-fast-1", "uxgrow-growing-slow-1"]


def test_growth_and_name_orders() -> None:
    containers = issue_22_frame()
    by_growth = build_watch_view(containers, ViewState(sort=SortOrder.GROWTH), [], ViewSettings(160, 60))
    assert row_lines(text_at(by_growth.renderable, 160, 60))[0].split()[0] == "uxgrow-growing-fast-1"
    by_name = build_watch_view(containers, ViewState(sort=SortOrder.NAME), [], ViewSettings(160, 60))
    names = [line.split()[0] for line in row_lines(text_at(by_name.renderable, 160, 60))]
    assert names[:3] == ["dockermem-demo-cache-1", "dockermem-demo-db-1", "dockermem-demo-worker-1"]
    assert names.index("dockermem-demo-worker-2") < names.index("dockermem-demo-worker-10")


@pytest.mark.parametrize("width", [80, 160])
def test_one_line_per_container_and_the_rest_counted(width: int) -> None:
    events = [Event(EventType.LEAK, START + timedelta(seconds=s), "default", "uxgrow-growing-fast-1",
                    f"growing-fast: +12.0 MiB/min ({s})") for s in range(5)]  # fmt: skip
    settings = ViewSettings(width, HEIGHT, interactive=True)
    view = build_watch_view(issue_22_frame(), ViewState(), events, settings)
    lines = text_at(view.renderable, width)
    assert len(lines) <= HEIGHT and all(len(line) <= width for line in lines)
    rows = row_lines(lines)
    assert len(rows) == view.screen.page_rows
    assert len({line[3:].split()[0] for line in rows}) == len(rows)  # after the cursor column
    hidden = 24 - len(rows)
    assert f"… {hidden} more rows: ↓ to scroll" in lines
    assert lines[-1].endswith("growing-fast: +12.0 MiB/min (4)")  # the latest event shows


def test_the_80_column_view_is_compact() -> None:
    lines = text_at(
        build_watch_view(issue_22_frame(), ViewState(), [], ViewSettings(80, 60)).renderable, 80, 60
    )
    db = row_lines(lines)[0]
    assert "100M/128M" in db and "78.1%" in db
    assert "300M/—" in "\n".join(lines)


def test_scrolled_rows_say_how_many_are_above() -> None:
    containers = issue_22_frame()
    settings = ViewSettings(80, HEIGHT, interactive=True)
    first = build_watch_view(containers, ViewState(), [], settings)
    last = first.screen.rows[-1]
    view = build_watch_view(containers, ViewState(selected=last), [], settings)
    lines = text_at(view.renderable, 80)
    above = 24 - view.screen.page_rows
    assert any(line.startswith(f"{above} above: ↑") or f"  {above} above: ↑" in line for line in lines), lines
    assert row_lines(lines)[-1].startswith("›")  # the selection is the last row shown


def test_a_flat_container_draws_a_flat_line_against_its_limit() -> None:
    flat = sparkline(course(*([61.7, 61.8] * 10)), 128 * MIB, 10)
    assert flat == "▄" * 10
    assert len(set(sparkline(course(*range(20, 100, 4)), 128 * MIB, 20))) > 4  # growth shows
    view = build_watch_view(issue_22_frame(), ViewState(sort=SortOrder.NAME), [], ViewSettings(80, 60))
    worker = next(line for line in row_lines(text_at(view.renderable, 80, 60)) if "worker-1 " in line)
    assert "▄" * 10 in worker


def test_without_a_limit_the_line_is_drawn_to_its_peak_and_says_so() -> None:
    assert sparkline(course(299.5, 300.0), None, 10) == "██"
    view = build_watch_view(issue_22_frame(), ViewState(sort=SortOrder.NAME), [], ViewSettings(80, 60))
    lines = text_at(view.renderable, 80, 60)
    cache = row_lines(lines)[0]
    assert "██*" in cache
    assert "* no limit: line drawn 0 to its own peak" in lines


def test_a_trend_not_known_yet_is_a_dash() -> None:
    view = build_watch_view(
        frame(watched("shop-api-1", "api", 10, 64)), ViewState(), [], ViewSettings(80, HEIGHT)
    )
    row = row_lines(text_at(view.renderable, 80))[0]
    assert row.split()[4] == "—"


def test_the_filter_shows_matching_rows_and_says_so() -> None:
    state = ViewState(filter_text="growing")
    lines = text_at(build_watch_view(issue_22_frame(), state, [], ViewSettings(80, HEIGHT)).renderable, 80)
    assert "filter: growing  2 of 24 containers" in lines[2]
    assert [line.split()[0] for line in row_lines(lines)] == [
        "uxgrow-growing-fast-1",
        "uxgrow-growing-slow-1",
    ]


def test_the_filter_matches_what_the_rows_show_not_the_project_in_the_header() -> None:
    # `fe8da1db` holds "db": the project, said once in the header, is in every container's name.
    named = "stack-fe8da1db"
    stack = frame(watched(f"{named}-api-1", "api", 30, 128, project=named),
                  watched(f"{named}-api-2", "api", 30, 128, project=named),
                  watched(f"{named}-db-1", "db", 20, 64, project=named))  # fmt: skip
    lines = text_at(
        build_watch_view(stack, ViewState(filter_text="db"), [], ViewSettings(80, HEIGHT)).renderable, 80
    )
    assert "filter: db  1 of 3 containers" in lines[2]
    assert [line.split()[0] for line in row_lines(lines)] == ["db-1"]
    shown = build_watch_view(stack, ViewState(filter_text="api-2"), [], ViewSettings(80, HEIGHT)).screen
    assert len(shown.rows) == 1  # the name as the row shows it, replica and all


def test_the_detail_shows_the_chart_against_the_limit_the_peak_and_the_events() -> None:
    containers = issue_22_frame()
    fast = next(row for row in containers.containers if row.service == "growing-fast")
    fast = replace(fast, peak_bytes=72 * MIB, oom_kills=1)
    containers = replace(
        containers, containers=(*(r for r in containers.containers if r.id != fast.id), fast)
    )
    events = [
        Event(EventType.OOM, START, "default", fast.name, "growing-fast: OOM kill"),
        Event(EventType.WARNING, START, "default", "dockermem-demo-db-1", "db: 80 % of its limit"),
    ]
    view = build_watch_view(
        containers, ViewState(detail=row_key(fast)), events, ViewSettings(80, HEIGHT, True)
    )
    text = "\n".join(text_at(view.renderable, 80))
    assert "usage 70.0MiB of 128MiB (54.7%)" in text
    assert "peak 72.0MiB  OOM kills 1  trend +12.0 MiB/min  limit in ~4 min" in text
    assert "128MiB limit │" in text and "0 │" in text
    assert "growing-fast: OOM kill" in text and "db: 80 %" not in text
    assert "Esc, Enter or q: back" in text


def test_the_detail_of_a_container_gone_says_so() -> None:
    view = build_watch_view(frame(), ViewState(detail="default/gone"), [], ViewSettings(80, HEIGHT, True))
    assert "default/gone is no longer running" in text_at(view.renderable, 80)[0]


def test_emergency_rows_come_before_critical_ones_whatever_their_percent() -> None:
    emergency = watched("shop-a-1", "a", 10, 64, level=ThresholdLevel.EMERGENCY)  # the engine's memory
    critical = watched("shop-b-1", "b", 50, 64)
    view = build_watch_view(frame(critical, emergency), ViewState(), [], ViewSettings(80, HEIGHT))
    assert [line.split()[0] for line in row_lines(text_at(view.renderable, 80))] == ["a-1", "b-1"]


@pytest.mark.parametrize("width", [80, 160])
def test_the_header_says_what_the_levels_mean_with_their_numbers(width: int) -> None:
    legend = Thresholds().short_legend(80)
    view = build_watch_view(issue_22_frame(), ViewState(), [], ViewSettings(width, HEIGHT, legend=legend))
    lines = text_at(view.renderable, width)
    assert any("CRIT 75%" in line and "warning event at 80%" in line for line in lines[:4]), lines[:4]
