"""The history report (pure): a right-sizing table per service with a verdict, a terminal chart
of memory over time, and the same as one self-contained HTML file.

The charting libraries (plotext for the terminal, matplotlib for the HTML file) are imported
inside the functions that draw, so that importing this module stays cheap."""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from dockermem.core.history import ChartMark, ServiceHistory
from dockermem.core.sizing import MIN_PERCENTILE_SAMPLES, AdviceKind, advise, percentile_text
from dockermem.render.documents import SCHEMA_VERSION
from dockermem.units import format_bytes, name_order

MIB = 1024**2
CHART_WIDTH = 160
CHART_HEIGHT = 20
# One marker and one colour per series (xterm's 256 colours, which plotext and rich both take).
CHART_MARKERS = ("braille", "x", "+", "o", "*", "#", "@", "%")
CHART_COLORS = (39, 208, 40, 199, 226, 51, 196, 141)
LEGEND_MARKS = {"braille": "⣿"}
# Tick spacings a time axis may take, in seconds: the smallest that fits the window is used.
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
TIME_LABEL_COLUMNS = 12  # a label like "14:00:30" and the room between two of them
VERDICT_STYLES = {
    AdviceKind.RAISE: "bold red",
    AdviceKind.SET: "yellow",
    AdviceKind.LOWER: "cyan",
    AdviceKind.FITS: "green",
    AdviceKind.LEAK: "bold magenta",
    AdviceKind.NONE: "dim",
}

Series = Mapping[str, Sequence[tuple[datetime, int]]]
Marks = Mapping[str, Sequence[ChartMark]]


def _limit_text(service: ServiceHistory) -> str:
    return "no limit" if service.memory_limit_bytes is None else format_bytes(service.memory_limit_bytes)


def _recommended_text(service: ServiceHistory) -> str:
    recommended = service.recommended_limit_bytes
    return "—" if recommended is None else format_bytes(recommended)


def _p95_text(service: ServiceHistory) -> str:
    return format_bytes(service.p95_bytes) if service.p95_known else "too few"


def killed_processes_text(service: ServiceHistory) -> str | None:
    """Which processes the kernel killed, where its log told: `redis-server 3×, dd 1×`, and how
    many of the kills were the host's own (it ran out of memory, not the service its limit)."""
    if not service.killed_processes:
        return None
    text = ", ".join(f"{count.name} {count.kills}×" for count in service.killed_processes)
    if service.host_oom_kills:
        text += f" ({service.host_oom_kills} by the host's OOM killer: the machine ran out of memory)"
    return text


def service_notes(service: ServiceHistory) -> list[str]:
    """What the table's short cells leave out for one service: the advice in full, why p95 is
    not given, and which processes the kernel killed."""
    notes = [advise(service).detail]
    if service.samples and (why := percentile_text(service.samples)):
        notes.append(f"p95 not given: {why}")
    if kills := killed_processes_text(service):
        notes.append(f"OOM kills by process: {kills}")
    return notes


def _since_text(since: datetime) -> str:
    return since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _projects(services: Sequence[ServiceHistory]) -> list[str | None]:
    return sorted({service.project for service in services}, key=lambda project: project or "")


def build_history_table(services: Sequence[ServiceHistory], title: str = "MEMORY BY SERVICE") -> Table:
    """One row per service (its name without the project, which the title carries): runs,
    samples, peak, p95, limit, OOM kills and the advice in short; narrow enough for 80 columns."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Service", overflow="fold")  # a long name wraps, never cut
    for name in ("Runs", "Samples", "Peak", "p95", "Limit", "OOM"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Advice", no_wrap=True)
    for service in services:
        advice = advise(service)
        table.add_row(
            service.service,
            str(service.runs),
            str(service.samples),
            format_bytes(service.peak_bytes),
            _p95_text(service),
            _limit_text(service),
            Text(str(service.oom_kills), style="bold red" if service.oom_kills else ""),
            Text(advice.short, style=VERDICT_STYLES[advice.kind]),
        )
    return table


def build_notes(services: Sequence[ServiceHistory], with_project: bool) -> Table:
    """The advice in full under the table, one service a row, wrapped within its column."""
    notes = Table.grid(padding=(0, 1))
    notes.add_column(no_wrap=True, style="bold")
    notes.add_column(overflow="fold")
    for service in services:
        name = service.label if with_project else service.service
        style = VERDICT_STYLES[advise(service).kind]
        for index, note in enumerate(service_notes(service)):
            notes.add_row(f"{name}:" if index == 0 else "", Text(note, style=style if index == 0 else ""))
    return notes


def time_ticks(start: datetime, end: datetime, max_ticks: int) -> list[tuple[datetime, str]]:
    """Ticks on a round spacing (15 s, 30 s, 1 min, 5 min, ...) chosen from the window so that
    at most `max_ticks` fit, labelled as finely as the spacing needs (every label differs)."""
    span = max((end - start).total_seconds(), 1.0)
    step = next((step for step in TIME_STEPS if span / step <= max(max_ticks - 1, 1)), None)
    if step is None:
        days = math.ceil(span / 86400 / max(max_ticks - 1, 1))
        step = days * 86400
    if step >= 86400:
        form = "%d/%m"
    elif span > 86400 or start.astimezone(UTC).date() != end.astimezone(UTC).date():
        form = "%d/%m %H:%M"
    else:
        form = "%H:%M:%S" if step < 60 else "%H:%M"
    first = math.ceil(start.timestamp() / step) * step
    ticks = []
    moment = first
    while moment <= end.timestamp():
        tick = datetime.fromtimestamp(moment, UTC)
        ticks.append((tick, tick.strftime(form)))
        moment += step
    return ticks


def value_ticks(top: float, max_ticks: int = 6) -> list[float]:
    """Round ticks from 0 past `top`: a spacing of 1, 2 or 5 times a power of ten."""
    top = max(top, 1.0)
    raw = top / max(max_ticks - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(factor * power for factor in (1, 2, 5, 10) if factor * power >= raw)
    count = math.ceil(top / step - 1e-9)
    return [round(index * step, 10) for index in range(count + 1)]


def _tick_text(value: float) -> str:
    return f"{value:g}"


def build_terminal_chart(
    series: Series,
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
    names: Mapping[str, str] | None = None,
) -> Text:
    """Memory over time, one line per service, drawn with plotext as text: round time and MiB
    ticks, one colour and marker per service, and the legend under the chart (never on a line),
    each series by its name in `names` (its label otherwise)."""
    import plotext  # type: ignore[import-untyped]  # heavy, and only the chart needs it

    points = [point for values in series.values() for point in values]
    if not points:
        return Text("")
    start, end = min(t for t, _ in points), max(t for t, _ in points)
    top = max(usage for _, usage in points) / MIB
    y_ticks = value_ticks(top, max(3, height // 4))
    x_ticks = time_ticks(start, end, max(2, (width - 8) // TIME_LABEL_COLUMNS))
    plotext.clear_figure()
    plotext.theme("clear")
    plotext.limitsize(False, False)  # the console's width rules, not the terminal plotext finds
    plotext.plotsize(width, height)
    legend = Text()
    for index, (label, values) in enumerate(sorted(series.items(), key=lambda item: name_order(item[0]))):
        marker = CHART_MARKERS[index % len(CHART_MARKERS)]
        color = CHART_COLORS[index % len(CHART_COLORS)]
        plotext.plot(
            [(t - start).total_seconds() for t, _ in values],
            [usage / MIB for _, usage in values],
            marker=marker,
            color=color,
        )
        legend.append(f"  {LEGEND_MARKS.get(marker, marker) * 2} ", style=f"color({color})").append(
            (names or {}).get(label, label)
        )
    plotext.xlim(0, max((end - start).total_seconds(), 1.0))
    plotext.ylim(0, y_ticks[-1])
    plotext.xticks([(t - start).total_seconds() for t, _ in x_ticks], [label for _, label in x_ticks])
    plotext.yticks(y_ticks, [_tick_text(value) for value in y_ticks])
    plotext.title("Memory over time (MiB, UTC)")
    chart = str(plotext.build())
    plotext.clear_figure()
    return Text.from_ansi(chart).append("\n").append_text(legend)


class TerminalChart:
    """The chart of memory over time as a Rich renderable: drawn as wide as the console gives it."""

    def __init__(
        self, series: Series, height: int = CHART_HEIGHT, names: Mapping[str, str] | None = None
    ) -> None:
        self.series = series
        self.height = height
        self.names = names

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = min(options.max_width, CHART_WIDTH)
        yield build_terminal_chart(self.series, width=width, height=self.height, names=self.names)


def build_report(
    services: Sequence[ServiceHistory], since: datetime, series: Series | None = None
) -> RenderableType:
    """The terminal report: per project a table of its services with the advice in short, the
    advice in full under it, then the chart (given series). One project is named once, in the
    header; several get a table each."""
    projects = _projects(services)
    header = f"DOCKERMEM HISTORY REPORT  since {_since_text(since)}"
    only_project = projects[0] if len(projects) == 1 else None
    if only_project is not None:
        header += f"\nproject {only_project}"
    title = Text(header, style="bold")
    if not services:
        return Group(title, Text(f"No memory history since {_since_text(since)}: run watch or up first."))
    parts: list[RenderableType] = [title]
    for project in projects:
        chosen = [service for service in services if service.project == project]
        if len(projects) == 1:
            table_title = "MEMORY BY SERVICE"
        else:
            table_title = (
                f"MEMORY BY SERVICE  project {project}" if project else "MEMORY BY SERVICE  no project"
            )
        parts.append(build_history_table(chosen, table_title))
    parts.append(build_notes(services, with_project=len(projects) > 1))
    if series:
        parts.append(Text(""))
        names = {service.label: service.service for service in services} if only_project else None
        parts.append(TerminalChart(series, names=names))
    return Group(*parts)


def _advice_document(service: ServiceHistory) -> dict[str, str]:
    advice = advise(service)
    return {"kind": advice.kind.value, "text": advice.detail}


def report_document(services: Sequence[ServiceHistory], since: datetime) -> dict[str, Any]:
    """The `report --json` object (schema 1)."""
    return {
        "schema": SCHEMA_VERSION,
        "since": since.isoformat(),
        "min_percentile_samples": MIN_PERCENTILE_SAMPLES,
        "services": [
            {
                "project": service.project,
                "service": service.service,
                "runs": service.runs,
                "samples": service.samples,
                "peak_bytes": service.peak_bytes,
                "p95_bytes": service.p95_bytes,
                "p95_known": service.p95_known,
                "memory_limit_bytes": service.memory_limit_bytes,
                "oom_kills": service.oom_kills,
                "host_oom_kills": service.host_oom_kills,
                "killed_processes": [
                    {"name": count.name, "kills": count.kills, "host_wide_kills": count.host_wide_kills}
                    for count in service.killed_processes
                ],
                "recommended_limit_bytes": service.recommended_limit_bytes,
                "leak": None
                if service.leak is None
                else {
                    "mib_per_minute": round(service.leak.mib_per_minute, 2),
                    "seen_by_watch": service.leak.seen_by_watch,
                },
                "advice": _advice_document(service),
            }
            for service in services
        ],
    }


HTML_HEADERS = ("Service", "Runs", "Samples", "Peak", "p95", "Limit", "OOM kills", "Recommended", "Advice")
HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; }
th { background: #f3f3f3; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
td.raise { color: #b00020; font-weight: bold; } td.set { color: #8a6d00; }
td.lower { color: #00639b; } td.fits { color: #1b7f3b; } td.none { color: #777; }
td.leak { color: #8e24aa; font-weight: bold; }
figure.chart { margin: 1.5em 0; width: 100%; }
figure.chart svg { width: 100%; height: auto; display: block; }
figure.chart figcaption { font-weight: bold; }
"""
# Inches at matplotlib's 72 points an inch: the SVG is drawn this wide and scaled to the page.
CHART_FIGURE_SIZE = (14.0, 3.6)
USAGE_COLOR = "#1f77b4"
LIMIT_COLOR = "#b00020"
RECOMMENDED_COLOR = "#1b7f3b"
LEAK_COLOR = "#8e24aa"
OOM_COLOR = "#d35400"


def build_html_report(
    services: Sequence[ServiceHistory], series: Series, since: datetime, marks: Marks | None = None
) -> str:
    """One self-contained HTML file: the table of services with the advice in full, and a chart
    of memory over time per service (inline SVG, full width: nothing is fetched to view it),
    with its limit, the recommended limit, its OOM kills and the leaks watch called. Every text
    is escaped."""
    since_text = html.escape(_since_text(since))
    rows = []
    for service in services:
        advice = advise(service)
        p95 = format_bytes(service.p95_bytes) if service.p95_known else percentile_text(service.samples) or ""
        cells = [
            f"<td>{html.escape(service.label)}</td>",
            *(
                f'<td class="number">{html.escape(value)}</td>'
                for value in (
                    str(service.runs),
                    str(service.samples),
                    format_bytes(service.peak_bytes),
                    p95,
                    _limit_text(service),
                    " ".join(filter(None, (str(service.oom_kills), killed_processes_text(service)))),
                    _recommended_text(service),
                )
            ),
            f'<td class="{advice.kind.value}">{html.escape(advice.detail)}</td>',
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    headers = "".join(f"<th>{name}</th>" for name in HTML_HEADERS)
    body = (
        f"<table><thead><tr>{headers}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if services
        else f"<p>No memory history since {since_text}.</p>"
    )
    by_label = {service.label: service for service in services}
    moments = [t for values in series.values() for t, _ in values]
    moments += [mark.ts for chosen in (marks or {}).values() for mark in chosen]
    window = (min(moments), max(moments)) if moments else None
    marks = marks or {}
    charts = [
        f'<figure class="chart" id="chart-{index}" data-service="{html.escape(label)}">'
        f"<figcaption>{html.escape(label)}</figcaption>"
        f"{build_svg_chart(label, values, by_label.get(label), marks.get(label, ()), window)}</figure>"
        for index, (label, values) in enumerate(sorted(series.items(), key=lambda item: name_order(item[0])))
        if values
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>dockermem history since {since_text}</title>"
        f"<style>{HTML_STYLE}</style></head><body>"
        f"<h1>dockermem history report</h1><p>Since {since_text}.</p>"
        f"<h2>Memory by service</h2>{body}"
        + (f"<h2>Memory over time</h2>{''.join(charts)}" if charts else "")
        + "</body></html>\n"
    )


def build_svg_chart(
    label: str,
    values: Sequence[tuple[datetime, int]],
    service: ServiceHistory | None,
    marks: Sequence[ChartMark] = (),
    window: tuple[datetime, datetime] | None = None,
) -> str:
    """One service's memory over time as an inline `<svg>` element (text kept as text, which
    matplotlib escapes): its usage, its limit (dashed), the recommended limit (a broad pale band
    drawn under the limit, so that it shows even where the two are equal), its OOM kills and
    the leaks watch called; the time axis labelled (over `window`, shared by the report's charts),
    the legend outside the data."""
    import matplotlib  # heavy: only the HTML report needs it
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    times = [_date_number(t) for t, _ in values]
    usage = [value / MIB for _, value in values]
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "dockermem", "timezone": "UTC"}):
        figure = Figure(figsize=CHART_FIGURE_SIZE, layout="constrained")
        ax = figure.subplots()
        ax.plot(times, usage, marker="." if len(times) == 1 else "", linewidth=1.5, color=USAGE_COLOR,
                label="usage", zorder=3)  # fmt: skip
        top = max(usage)
        if service is not None and service.recommended_limit_bytes is not None:
            value = service.recommended_limit_bytes / MIB
            ax.axhline(value, color=RECOMMENDED_COLOR, linewidth=7, alpha=0.35, zorder=1,
                       label=f"recommended {format_bytes(service.recommended_limit_bytes)}")  # fmt: skip
            top = max(top, value)
        if service is not None and service.memory_limit_bytes is not None:
            value = service.memory_limit_bytes / MIB
            ax.axhline(value, color=LIMIT_COLOR, linestyle="--", linewidth=1.5, zorder=2,
                       label=f"limit {format_bytes(service.memory_limit_bytes)}")  # fmt: skip
            top = max(top, value)
        for kind, color, style in (("leak", LEAK_COLOR, ":"), ("oom", OOM_COLOR, "-")):
            chosen = [mark for mark in marks if mark.kind == kind]
            for index, mark in enumerate(chosen):
                name = "OOM kill" if kind == "oom" else f"leak +{mark.mib_per_minute or 0:.1f} MiB/min"
                ax.axvline(_date_number(mark.ts), color=color, linestyle=style, linewidth=2, zorder=4,
                           label=name if kind == "leak" or index == 0 else None)  # fmt: skip
        if (
            service is not None
            and service.leak is not None
            and not any(mark.kind == "leak" for mark in marks)
        ):
            ax.axvspan(times[len(times) * 2 // 3], times[-1], color=LEAK_COLOR, alpha=0.12, zorder=0,
                       label=f"still climbing +{service.leak.mib_per_minute:.1f} MiB/min")  # fmt: skip
        ax.set_ylabel("memory (MiB)")
        ax.set_xlabel("time (UTC)")
        ax.set_ylim(0, max(top, 1.0) * 1.1)
        if window is not None and window[0] < window[1]:
            ax.set_xlim(_date_number(window[0]), _date_number(window[1]))
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0)
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    # Inline in HTML: no XML prolog or doctype, and no metadata block; a title names the service.
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    opening = svg.index(">") + 1
    return f"{svg[:opening]}<title>{html.escape(label)}</title>{svg[opening:]}"


def _date_number(moment: datetime) -> float:
    """A time as matplotlib's date axis counts it (days since its epoch)."""
    from matplotlib.dates import date2num

    return float(date2num(moment))  # type: ignore[no-untyped-call]
