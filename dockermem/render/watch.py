"""`watch`'s live view, its JSON lines and its closing summary (pure)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dockermem.core.events import Event, EventType, Frame, SessionSummary, WatchedContainer
from dockermem.core.leaks import format_eta
from dockermem.core.thresholds import ThresholdLevel
from dockermem.render.documents import SCHEMA_VERSION, container_document
from dockermem.render.styles import style_for
from dockermem.render.watch_state import (
    Screen,
    ViewState,
    ordered_rows,
    row_key,
    short_name,
    the_project,
    window,
)
from dockermem.units import format_bytes, format_percent

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 20
EVENT_STYLES = {
    EventType.WARNING: "yellow",
    EventType.RECOVERED: "green",
    EventType.CRITICAL: "yellow",
    EventType.EMERGENCY: "bold white on red",
    EventType.OOM: "bold red",
    EventType.LEAK: "magenta",
    EventType.LEAK_CLEARED: "green",
    EventType.STARTED: "cyan",
    EventType.HEALTHY: "cyan",
    EventType.UNHEALTHY: "red",
    EventType.EXITED: "red",
    EventType.GONE: "dim",
    EventType.SCALED: "cyan",
    EventType.CLEANUP: "yellow",
    EventType.STREAM_RESTARTED: "cyan",
    EventType.ENGINE_DOWN: "bold red",
    EventType.ERROR: "red",
    EventType.NOTICE: "dim",
}
RECENT_EVENTS_SHOWN = 8
# Below this many columns the view is compact: sizes as `61.8M/128M`, levels in four letters.
WIDE_COLUMNS = 120
NARROW_SPARK_WIDTH = 10
CURSOR = "›"
LEVEL_WORDS = {
    ThresholdLevel.SAFE: ("SAFE", "safe"),
    ThresholdLevel.WARNING: ("WARN", "warning"),
    ThresholdLevel.CRITICAL: ("CRIT", "critical"),
    ThresholdLevel.EMERGENCY: ("EMER", "emergency"),
}
CHART_BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(values: tuple[int, ...], ceiling: int | None, width: int = SPARK_WIDTH) -> str:
    """The values as block characters from 0 to `ceiling` (the limit; without one, the highest
    value), so that memory holding still draws a flat line however little it wavers. More values
    than `width` are drawn as the highest of each group."""
    if not values:
        return ""
    step = math.ceil(len(values) / width)
    buckets = [max(values[i : i + step]) for i in range(0, len(values), step)]
    top = ceiling or max(buckets)
    if top <= 0:
        return SPARK_BLOCKS[0] * len(buckets)
    last = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[max(0, min(last, int(value * len(SPARK_BLOCKS) / top)))] for value in buckets)


def trend_text(row: WatchedContainer) -> str:
    """`+5.9` or `-2.0` MiB/min, `0.0` for a flat container (no sign), `—` until it means something."""
    trend = row.trend_mib_per_minute
    if trend is None:
        return "—"
    return "0.0" if round(trend, 1) == 0 else f"{trend:+.1f}"


def compact_bytes(size: int) -> str:
    """`61.8M`, `128M`, `2.00G`: a size in the fewest characters."""
    return format_bytes(size).replace("iB", "")


def cut(label: str, width: int) -> str:
    """A label in `width` characters: its start and its end (the replica number) around `…`."""
    if len(label) <= width:
        return label
    if width <= 1:
        return "…"[:width]
    tail = (width - 1) // 3
    return label[: width - 1 - tail] + "…" + (label[len(label) - tail :] if tail else "")


def cut_around(label: str, position: int, width: int) -> str:
    """The part of a label around `position` (where it differs from another), in `width` characters."""
    if len(label) <= width:
        return label
    start = max(0, min(position - (width - 2) // 2, len(label) - (width - 1)))
    head = "…" if start > 0 else ""
    room = width - len(head)
    body = label[start : start + room]
    if start + room < len(label):
        body = body[:-1] + "…"
    return head + body


def distinct_cuts(labels: Sequence[str], width: int) -> list[str]:
    """Each label cut to `width`, no two different labels cut alike: where two cuts clash, each
    shows where its label differs; as a last resort they are numbered."""
    cuts = [cut(label, width) for label in labels]
    for _ in range(len(labels)):
        clashes = _clashes(labels, cuts)
        if not clashes:
            return cuts
        for group in clashes:
            differs_at = len(os.path.commonprefix([labels[i] for i in group]))
            for i in group:
                cuts[i] = cut_around(labels[i], differs_at, width)
    for number, group in enumerate(_clashes(labels, cuts), start=1):
        for rank, i in enumerate(group, start=1):
            suffix = f"~{number}.{rank}"
            cuts[i] = cut(labels[i], max(1, width - len(suffix))) + suffix
    return cuts


def _clashes(labels: Sequence[str], cuts: Sequence[str]) -> list[list[int]]:
    """Groups of indices whose cuts are the same while their labels are not."""
    by_cut: dict[str, list[int]] = {}
    for i, shown in enumerate(cuts):
        by_cut.setdefault(shown, []).append(i)
    return [group for group in by_cut.values() if len({labels[i] for i in group}) > 1]


@dataclass(frozen=True)
class WatchView:
    """A render of the live view, and the rows it laid out (what the next key press acts on)."""

    renderable: RenderableType
    screen: Screen


@dataclass(frozen=True)
class ViewSettings:
    """What the view is drawn for: the terminal's size, whether keys work, and the session's
    sparkline window."""

    width: int
    height: int
    interactive: bool = False
    multiple_engines: bool = False
    window_seconds: float | None = None
    legend: str | None = None  # what the levels mean, with their numbers


def build_watch_view(
    frame: Frame, state: ViewState, recent_events: Sequence[Event], settings: ViewSettings
) -> WatchView:
    """The live view at one moment: the header with host and engine memory, one line per container
    (the most urgent first, as many as fit, and how many do not), and recent events; or, when
    one is open, a container's detail."""
    rows = ordered_rows(frame.containers, state)
    keys = tuple(row_key(row) for row in rows)
    if state.detail is not None:
        chosen = next((row for row in frame.containers if row_key(row) == state.detail), None)
        detail = build_container_detail(frame, chosen, state.detail, recent_events, settings)
        return WatchView(detail, Screen(keys, 1))
    header = _header_lines(frame, state, len(rows), settings)
    events = list(recent_events)[-RECENT_EVENTS_SHOWN:]
    # Lines: the header, the table's header, its rows, one footer line, the events.
    room = max(1, settings.height - len(header) - 2)
    events_kept = min(len(events), max(1, settings.height // 8))
    page = max(1, min(len(rows), room - events_kept)) if rows else 1
    events_kept = min(len(events), room - (page if rows else 1))
    offset, selected = window(state, Screen(keys, page))
    shown = rows[offset : offset + page]
    table: RenderableType = _rows_table(frame, shown, offset, selected, settings)
    if not rows:
        table = Text("(no container matches the filter)" if frame.containers else "(no running containers)")
    footer = _footer(len(rows), offset, shown, settings)
    event_lines = [event_line(event) for event in events[len(events) - max(0, events_kept) :]]
    return WatchView(Group(*header, table, footer, *event_lines), Screen(keys, page))


def event_line(event: Event) -> Text:
    """An event on one line, in its colour."""
    style = EVENT_STYLES.get(event.type, "")
    return Text(f"{event.ts:%H:%M:%S} {event.message}", style=style, no_wrap=True, overflow="ellipsis")


def _header_lines(frame: Frame, state: ViewState, row_count: int, settings: ViewSettings) -> list[Text]:
    host = frame.host
    project = the_project(frame.containers)
    title = Text(f"dockermem watch  {frame.ts:%H:%M:%S}", style="bold")
    if project:
        title.append(f"  project {project}")
    title.append(
        f"  host {host.memory_percent:.1f}% ({format_bytes(host.memory_available_bytes)} free)",
        style=style_for(frame.host_level),
    )
    engines = Text(
        "  ".join(
            f"{engine.name}: "
            + (format_bytes(engine.memory_total_bytes) if engine.memory_total_bytes else "?")
            + f" via {engine.source}"
            + ("" if engine.up else " (unreachable)")
            for engine in frame.engines
        ),
        style="dim",
    )
    status = Text(f"sort: {state.sort.value}")
    if state.filter_draft is not None:
        status.append(f"  filter: {state.filter_draft}▏", style="bold")
        status.append("  Enter applies, Esc clears", style="dim")
    elif state.filter_text:
        status.append(f"  filter: {state.filter_text}", style="bold")
        status.append(f"  {row_count} of {len(frame.containers)} containers")
    else:
        status.append(f"  {len(frame.containers)} containers")
    if settings.interactive and state.filter_draft is None:
        status.append("  q quit  s sort  / filter  ↑↓ select  Enter detail", style="dim")
    lines = [title, engines, status]
    if settings.legend:
        lines.insert(2, Text(settings.legend, style="dim"))
    for line in lines:
        line.no_wrap = True
        line.overflow = "ellipsis"
    return lines


def _rows_table(
    frame: Frame, shown: Sequence[WatchedContainer], offset: int, selected: int, settings: ViewSettings
) -> Table:
    wide = settings.width >= WIDE_COLUMNS
    spark_width = SPARK_WIDTH if wide else NARROW_SPARK_WIDTH
    window = f"LAST {format_eta(settings.window_seconds).upper()}" if settings.window_seconds else "RECENT"
    columns: list[tuple[str, int, str]] = []  # heading, width, justify
    if settings.interactive:
        columns.append(("", 1, "left"))
    if settings.multiple_engines:
        columns.append(("ENGINE", min(10, max(6, *(len(e.name) for e in frame.engines))), "left"))
    columns.append(("CONTAINER", 0, "left"))  # takes what the others leave
    columns += [
        ("USAGE / LIMIT" if wide else "MEM", 17 if wide else 11, "right"),
        ("MEM %", 6, "right"),
        ("LEVEL" if wide else "LVL", 9 if wide else 4, "left"),
        ("MiB/min" if wide else "MiB/m", 7 if wide else 6, "right"),
    ]
    if wide:
        columns += [("PEAK", 8, "right"), ("OOM", 3, "right")]
    columns += [(f"{window} (0–LIMIT)" if wide else window, spark_width, "left"), ("LIMIT IN", 8, "right")]
    gaps = 2 * (len(columns) - 1)
    name_width = max(6, settings.width - gaps - sum(width for _, width, _ in columns))
    project = the_project(frame.containers)
    names = distinct_cuts([short_name(row, project) for row in frame.containers], name_width)
    cut_names = {row_key(row): name for row, name in zip(frame.containers, names, strict=True)}
    longest = max((len(cut_names[row_key(row)]) for row in shown), default=0)
    table = Table(box=None, padding=(0, 1), pad_edge=False, expand=False, header_style="bold")
    for heading, width, justify in columns:
        fixed = width or max(len(heading), longest)
        table.add_column(
            heading,
            width=fixed,
            no_wrap=True,
            overflow="ellipsis",
            justify=justify,  # type: ignore[arg-type]
        )
    for index, row in enumerate(shown, start=offset):
        is_selected = settings.interactive and index == selected
        cells = _row_cells(row, cut_names[row_key(row)], wide, spark_width)
        if settings.multiple_engines:
            cells.insert(0, row.engine)
        if settings.interactive:
            cells.insert(0, CURSOR if is_selected else "")
        style = style_for(row.level) + (" reverse" if is_selected else "")
        table.add_row(*cells, style=style)
    return table


def _row_cells(row: WatchedContainer, name: str, wide: bool, spark_width: int) -> list[RenderableType]:
    limit = row.memory_limit_bytes
    if wide:
        usage = f"{format_bytes(row.memory_usage_bytes)} / " + (
            "no limit" if limit is None else format_bytes(limit)
        )
    else:
        usage = f"{compact_bytes(row.memory_usage_bytes)}/" + ("—" if limit is None else compact_bytes(limit))
    short_level, long_level = LEVEL_WORDS[row.level]
    line = sparkline(row.recent_usage, limit, spark_width) + ("" if limit is not None else "*")
    cells: list[RenderableType] = [
        name,
        usage,
        format_percent(row.memory_percent),
        long_level if wide else short_level,
        trend_text(row),
    ]
    if wide:
        cells += [format_bytes(row.peak_bytes), str(row.oom_kills)]
    cells += [line, "—" if row.seconds_to_limit is None else f"~{format_eta(row.seconds_to_limit)}"]
    return cells


def _footer(total: int, offset: int, shown: Sequence[WatchedContainer], settings: ViewSettings) -> Text:
    below = total - offset - len(shown)
    parts = []
    if below > 0:
        parts.append(f"… {below} more rows" + (": ↓ to scroll" if settings.interactive else ""))
    if offset > 0:
        parts.append(f"{offset} above" + (": ↑" if settings.interactive else ""))
    if any(row.memory_limit_bytes is None for row in shown):
        parts.append("* no limit: line drawn 0 to its own peak")
    return Text("  ".join(parts), style="dim", no_wrap=True, overflow="ellipsis")


def build_container_detail(
    frame: Frame,
    row: WatchedContainer | None,
    key: str,
    recent_events: Sequence[Event],
    settings: ViewSettings,
) -> RenderableType:
    """One container: its memory over the window drawn against its limit, its limit, peak,
    trend, OOM kills and recent events."""
    back = Text("Esc, Enter or q: back to the list", style="dim")
    if row is None:
        return Group(Text(f"{key} is no longer running", style="bold"), back)
    project = the_project(frame.containers)
    name = short_name(row, project)
    title = Text(name, style="bold")
    title.append(("" if name == row.name else f"  {row.name}") + f"  engine {row.engine}  id {row.id[:12]}")
    limit = row.memory_limit_bytes
    facts = Text(
        f"usage {format_bytes(row.memory_usage_bytes)} of "
        + ("no limit" if limit is None else f"{format_bytes(limit)} ({format_percent(row.memory_percent)})")
        + f"  {LEVEL_WORDS[row.level][1]}",
        style=style_for(row.level),
    )
    more = Text(
        f"peak {format_bytes(row.peak_bytes)}  OOM kills {row.oom_kills}  trend {trend_text(row)} MiB/min"
        + ("" if row.seconds_to_limit is None else f"  limit in ~{format_eta(row.seconds_to_limit)}")
        + ("  leaking" if row.leaking else "")
    )
    events = [
        event_line(event)
        for event in recent_events
        if event.container == row.name and event.engine == row.engine
    ][-RECENT_EVENTS_SHOWN:]
    chart_height = max(3, min(10, settings.height - 8 - len(events)))
    chart = usage_chart(row.recent_usage, limit, chart_height, settings.width, settings.window_seconds)
    heading = Text("events", style="bold") if events else Text("no events of it yet", style="dim")
    return Group(title, facts, more, chart, heading, *events, back)


def usage_chart(
    values: tuple[int, ...], limit: int | None, height: int, width: int, window_seconds: float | None
) -> Text:
    """Memory over the window as columns of blocks from 0 (the bottom) to the limit (the top),
    or to the highest value when there is no limit, which the top line says."""
    top = limit or max(values, default=0)
    label = f"{format_bytes(top)} " + ("limit" if limit is not None else "peak (no limit)")
    axis = max(len(label), 2)
    column = max(1, min(3, (width - axis - 2) // max(1, len(values))))
    lines = []
    for level in range(height - 1, -1, -1):
        bars = ""
        for value in values:
            fill = (value / top * height - level) if top > 0 else 0.0
            block = CHART_BLOCKS[max(0, min(len(CHART_BLOCKS) - 1, int(fill * (len(CHART_BLOCKS) - 1))))]
            bars += block * column
        mark = label if level == height - 1 else ("0" if level == 0 else "")
        lines.append(f"{mark:>{axis}} │{bars}")
    span = f"the last {format_eta(window_seconds)}" if window_seconds else "the recent past"
    lines.append(f"{'':>{axis}} └{'─' * (column * len(values))} {span}, now at the right")
    return Text("\n".join(lines), no_wrap=True, overflow="ellipsis")


def sample_document(frame: Frame) -> dict[str, Any]:
    """A `{"type": "sample"}` JSON line: the containers with the fields of stats --json."""
    return {
        "type": "sample",
        "schema": SCHEMA_VERSION,
        "ts": frame.ts.isoformat(),
        "host": {
            "memory_total_bytes": frame.host.memory_total_bytes,
            "memory_used_bytes": frame.host.memory_used_bytes,
            "memory_available_bytes": frame.host.memory_available_bytes,
            "memory_percent": frame.host.memory_percent,
            "cpu_percent": frame.host.cpu_percent,
        },
        "engines": [
            {"name": e.name, "memory_total_bytes": e.memory_total_bytes, "source": e.source, "up": e.up}
            for e in frame.engines
        ],
        "containers": [
            {
                **container_document(row),
                "engine": row.engine,
                "trend_mib_per_minute": row.trend_mib_per_minute,
                "seconds_to_limit": row.seconds_to_limit,
                "leaking": row.leaking,
                "peak_bytes": row.peak_bytes,
                "oom_kills": row.oom_kills,
            }
            for row in frame.containers
        ],
    }


def event_document(event: Event) -> dict[str, Any]:
    """An event JSON line: type, ts, engine, container, message, the container's ID, project
    and service (when it is about a container), and the event's own fields."""
    document: dict[str, Any] = {
        "type": event.type.value,
        "ts": event.ts.isoformat(),
        "engine": event.engine,
        "container": event.container,
        "message": event.message,
    }
    document.update(container_id=event.container_id, project=event.project, service=event.service)
    document.update({key: value for key, value in event.details.items() if key not in document})
    return document


def build_watch_summary(summary: SessionSummary) -> Table:
    """Each container's peak against its limit, printed when a watch ends."""
    table = Table(title="PEAKS", title_justify="left")
    for column in ("Engine", "Container", "Peak", "Limit"):
        table.add_column(column)
    for peak in summary.peaks:
        limit = "no limit" if peak.limit_bytes is None else format_bytes(peak.limit_bytes)
        table.add_row(peak.engine, peak.name, format_bytes(peak.peak_bytes), limit)
    return table


def summary_document(summary: SessionSummary) -> dict[str, Any]:
    """The closing `{"type": "summary"}` line of `watch --json`."""
    return {
        "type": "summary",
        "peaks": [
            {"engine": peak.engine, "container": peak.name, "project": peak.project, "service": peak.service,
             "peak_bytes": peak.peak_bytes, "memory_limit_bytes": peak.limit_bytes}
            for peak in summary.peaks
        ],
        "oom_seen": summary.oom_seen,
        "emergency_seen": summary.emergency_seen,
    }  # fmt: skip


def plain_frame_line(frame: Frame) -> str:
    """One log line per tick, for output that is not a terminal."""
    parts = [f"{frame.ts:%H:%M:%S} host {frame.host.memory_percent:.1f}%"]
    for row in frame.containers:
        limit = "" if row.memory_limit_bytes is None else f"/{format_bytes(row.memory_limit_bytes)}"
        trend = "" if row.trend_mib_per_minute is None else f" {trend_text(row)}MiB/min"
        parts.append(f"{row.name} {format_bytes(row.memory_usage_bytes)}{limit}{trend}")
    return " | ".join(parts)
