"""`watch`'s live view, its JSON lines and its closing summary (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dockermem.core.events import Event, EventType, Frame, SessionSummary, WatchedContainer
from dockermem.core.leaks import format_eta
from dockermem.render.documents import SCHEMA_VERSION, container_document
from dockermem.render.styles import style_for
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


def sparkline(values: tuple[int, ...], width: int = SPARK_WIDTH) -> str:
    """The last values as block characters, scaled between their minimum and maximum."""
    if not values:
        return ""
    step = max(1, len(values) // width)
    buckets = [max(values[i : i + step]) for i in range(0, len(values), step)][-width:]
    low, high = min(buckets), max(buckets)
    if high == low:
        return SPARK_BLOCKS[0] * len(buckets)
    scale = (len(SPARK_BLOCKS) - 1) / (high - low)
    return "".join(SPARK_BLOCKS[round((value - low) * scale)] for value in buckets)


def trend_text(row: WatchedContainer) -> str:
    if row.trend_mib_per_minute is None:
        return "—"
    return f"{row.trend_mib_per_minute:+.1f}"


def build_watch_view(frame: Frame, multiple_engines: bool, recent_events: Sequence[Event] = ()) -> Group:
    """Header with host and engine memory, the table coloured by level, and recent events."""
    host = frame.host
    header = Text(
        f"dockermem watch  {frame.ts:%H:%M:%S}  host memory {host.memory_percent:.1f}% "
        f"({format_bytes(host.memory_available_bytes)} available)",
        style="bold",
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
    table = Table(expand=False)
    if multiple_engines:
        table.add_column("Engine")
    for column, justify in (
        ("Container", "left"),
        ("Service", "left"),
        ("Usage / Limit", "right"),
        ("Mem %", "right"),
        ("MiB/min", "right"),
        ("Last minutes", "left"),
        ("Limit in", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in frame.containers:
        limit = "no limit" if row.memory_limit_bytes is None else format_bytes(row.memory_limit_bytes)
        cells: list[RenderableType] = [
            row.name,
            row.service or "—",
            f"{format_bytes(row.memory_usage_bytes)} / {limit}",
            f"{row.level.marker} {format_percent(row.memory_percent)}",
            trend_text(row),
            sparkline(row.recent_usage),
            "—" if row.seconds_to_limit is None else f"~{format_eta(row.seconds_to_limit)}",
        ]
        if multiple_engines:
            cells.insert(0, row.engine)
        table.add_row(*cells, style=style_for(row.level))
    if not frame.containers:
        table.add_row(*(["(no running containers)"] + [""] * (len(table.columns) - 1)))
    events = [
        Text(f"{event.ts:%H:%M:%S} {event.message}", style=EVENT_STYLES.get(event.type, ""))
        for event in list(recent_events)[-RECENT_EVENTS_SHOWN:]
    ]
    return Group(header, engines, table, *events)


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
        trend = "" if row.trend_mib_per_minute is None else f" {row.trend_mib_per_minute:+.1f}MiB/min"
        parts.append(f"{row.name} {format_bytes(row.memory_usage_bytes)}{limit}{trend}")
    return " | ".join(parts)
