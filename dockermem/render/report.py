"""The history report (pure): a right-sizing table per service with a verdict, a terminal chart
of memory over time, and the same as one self-contained HTML file.

The charting libraries (plotext for the terminal, matplotlib for the HTML file) are imported
inside the functions that draw, so that importing this module stays cheap."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from dockermem.core.history import ServiceHistory
from dockermem.render.documents import SCHEMA_VERSION
from dockermem.units import format_bytes

MIB = 1024**2
LOWER_WHEN_LIMIT_OVER_PEAK = 2.0
CHART_WIDTH = 100
CHART_HEIGHT = 20
CHART_MARKERS = ("braille", "x", "+", "o", "*", "#", "@", "%")
CHART_COLORS = ("cyan", "magenta", "green", "yellow", "blue", "red", "white", "orange")
VERDICT_STYLES = {"raise": "bold red", "set": "yellow", "lower": "cyan", "fits": "green", "none": "dim"}

Series = Mapping[str, Sequence[tuple[datetime, int]]]


def verdict(service: ServiceHistory) -> tuple[str, str]:
    """What to do with a service's limit, and the kind of advice (`raise`, `set`, `lower`,
    `fits` or `none`): "limit 512MiB is 3.1× the peak: lower to 176MiB"."""
    recommended = service.recommended_limit_bytes
    if recommended is None or service.samples == 0:
        return f"OOM-killed {service.oom_kills}× but no samples: nothing to size", "none"
    advice = format_bytes(recommended)
    limit, peak = service.memory_limit_bytes, service.peak_bytes
    if limit is None:
        return f"no limit: set {advice}", "set"
    if service.oom_kills > service.host_oom_kills:
        return f"OOM-killed {service.oom_kills}× at {format_bytes(limit)}: raise to {advice}", "raise"
    if recommended > limit:
        return f"peak reached {100 * peak / limit:.0f}% of the limit: raise to {advice}", "raise"
    if recommended < limit and limit >= LOWER_WHEN_LIMIT_OVER_PEAK * peak:
        ratio = "no use seen" if peak == 0 else f"{limit / peak:.1f}× the peak"
        return f"limit {format_bytes(limit)} is {ratio}: lower to {advice}", "lower"
    return f"fits: peak is {100 * peak / limit:.0f}% of the limit", "fits"


def _limit_text(service: ServiceHistory) -> str:
    return "no limit" if service.memory_limit_bytes is None else format_bytes(service.memory_limit_bytes)


def _recommended_text(service: ServiceHistory) -> str:
    recommended = service.recommended_limit_bytes
    return "—" if recommended is None else format_bytes(recommended)


def killed_processes_text(service: ServiceHistory) -> str | None:
    """Which processes the kernel killed, where its log told: `redis-server 3×, dd 1×`, and how
    many of the kills were the host's own (it ran out of memory, not the service its limit)."""
    if not service.killed_processes:
        return None
    text = ", ".join(f"{count.name} {count.kills}×" for count in service.killed_processes)
    if service.host_oom_kills:
        text += f" ({service.host_oom_kills} by the host's OOM killer: the machine ran out of memory)"
    return text


def build_kills_list(services: Sequence[ServiceHistory]) -> Text | None:
    """`OOM kills by process` under the table: one line a service the kernel's log told of."""
    lines = [(service.label, text) for service in services if (text := killed_processes_text(service))]
    if not lines:
        return None
    out = Text("OOM KILLS BY PROCESS\n", style="bold")
    for label, text in lines:
        out.append(f"  {label}: ", style="bold").append(text + "\n")
    return out


def _since_text(since: datetime) -> str:
    return since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def build_history_table(services: Sequence[ServiceHistory]) -> Table:
    """One row per service: runs, samples, peak, p95, limit, OOM kills, recommendation, verdict."""
    table = Table(title="MEMORY BY SERVICE", title_justify="left")
    table.add_column("Service")
    table.add_column("Runs", justify="right")
    table.add_column("Samples", justify="right")
    table.add_column("Peak", justify="right")
    table.add_column("p95", justify="right")
    table.add_column("Limit", justify="right")
    table.add_column("OOM", justify="right")
    table.add_column("Recommended", justify="right")
    table.add_column("Verdict")
    for service in services:
        text, kind = verdict(service)
        table.add_row(
            service.label,
            str(service.runs),
            str(service.samples),
            format_bytes(service.peak_bytes),
            format_bytes(service.p95_bytes),
            _limit_text(service),
            Text(str(service.oom_kills), style="bold red" if service.oom_kills else ""),
            _recommended_text(service),
            Text(text, style=VERDICT_STYLES[kind]),
        )
    return table


def build_terminal_chart(series: Series, width: int = CHART_WIDTH, height: int = CHART_HEIGHT) -> Text:
    """Memory over time, one line per service, drawn with plotext as text."""
    import plotext  # type: ignore[import-untyped]  # heavy, and only the chart needs it

    points = [point for values in series.values() for point in values]
    if not points:
        return Text("")
    span = (max(t for t, _ in points) - min(t for t, _ in points)).total_seconds()
    plotext.clear_figure()
    plotext.theme("clear")
    plotext.date_form("Y-m-d H:M:S", "d/m H:M" if span > 86400 else "H:M")
    plotext.plotsize(width, height)
    for index, (label, values) in enumerate(sorted(series.items())):
        plotext.plot(
            [t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") for t, _ in values],
            [usage / MIB for _, usage in values],
            label=label,
            marker=CHART_MARKERS[index % len(CHART_MARKERS)],
            color=CHART_COLORS[index % len(CHART_COLORS)],
        )
    plotext.title("Memory over time (MiB, UTC)")
    chart = str(plotext.build())
    plotext.clear_figure()
    return Text.from_ansi(chart)


class TerminalChart:
    """The chart of memory over time as a Rich renderable: drawn as wide as the console gives it."""

    def __init__(self, series: Series, height: int = CHART_HEIGHT) -> None:
        self.series = series
        self.height = height

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield build_terminal_chart(self.series, width=min(options.max_width, CHART_WIDTH), height=self.height)


def build_report(
    services: Sequence[ServiceHistory], since: datetime, series: Series | None = None
) -> RenderableType:
    """The terminal report: the table of services with verdicts, then the chart (given series)."""
    title = Text(f"DOCKERMEM HISTORY REPORT  since {_since_text(since)}", style="bold")
    if not services:
        return Group(title, Text(f"No memory history since {_since_text(since)}: run watch or up first."))
    parts: list[RenderableType] = [title, build_history_table(services)]
    kills = build_kills_list(services)
    if kills is not None:
        parts.append(kills)
    if series:
        parts.append(TerminalChart(series))
    return Group(*parts)


def report_document(services: Sequence[ServiceHistory], since: datetime) -> dict[str, Any]:
    """The `report --json` object (schema 1)."""
    return {
        "schema": SCHEMA_VERSION,
        "since": since.isoformat(),
        "services": [
            {
                "project": service.project,
                "service": service.service,
                "runs": service.runs,
                "samples": service.samples,
                "peak_bytes": service.peak_bytes,
                "p95_bytes": service.p95_bytes,
                "memory_limit_bytes": service.memory_limit_bytes,
                "oom_kills": service.oom_kills,
                "host_oom_kills": service.host_oom_kills,
                "killed_processes": [
                    {"name": count.name, "kills": count.kills, "host_wide_kills": count.host_wide_kills}
                    for count in service.killed_processes
                ],
                "recommended_limit_bytes": service.recommended_limit_bytes,
            }
            for service in services
        ],
    }


HTML_HEADERS = ("Service", "Runs", "Samples", "Peak", "p95", "Limit", "OOM kills", "Recommended", "Verdict")
HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; }
th { background: #f3f3f3; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
td.raise { color: #b00020; font-weight: bold; } td.set { color: #8a6d00; }
td.lower { color: #00639b; } td.fits { color: #1b7f3b; } td.none { color: #777; }
svg { max-width: 100%; height: auto; }
"""


def build_html_report(services: Sequence[ServiceHistory], series: Series, since: datetime) -> str:
    """One self-contained HTML file: the table of services and a chart of memory over time per
    service (inline SVG: nothing is fetched to view it). Every text is escaped."""
    since_text = html.escape(_since_text(since))
    rows = []
    for service in services:
        text, kind = verdict(service)
        cells = [
            f"<td>{html.escape(service.label)}</td>",
            *(
                f'<td class="number">{html.escape(value)}</td>'
                for value in (
                    str(service.runs),
                    str(service.samples),
                    format_bytes(service.peak_bytes),
                    format_bytes(service.p95_bytes),
                    _limit_text(service),
                    " ".join(filter(None, (str(service.oom_kills), killed_processes_text(service)))),
                    _recommended_text(service),
                )
            ),
            f'<td class="{kind}">{html.escape(text)}</td>',
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    headers = "".join(f"<th>{name}</th>" for name in HTML_HEADERS)
    body = (
        f"<table><thead><tr>{headers}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if services
        else f"<p>No memory history since {since_text}.</p>"
    )
    chart = build_svg_chart(services, series) if series else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>dockermem history since {since_text}</title>"
        f"<style>{HTML_STYLE}</style></head><body>"
        f"<h1>dockermem history report</h1><p>Since {since_text}.</p>"
        f"<h2>Memory by service</h2>{body}"
        + (f'<h2>Memory over time</h2><div class="chart">{chart}</div>' if chart else "")
        + "</body></html>\n"
    )


def build_svg_chart(services: Sequence[ServiceHistory], series: Series) -> str:
    """Memory over time, one panel per service with its limit and recommended limit, as an
    inline `<svg>` element (text kept as text, which matplotlib escapes)."""
    import matplotlib  # heavy: only the HTML report needs it
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    by_label = {service.label: service for service in services}
    labels = sorted(label for label, values in series.items() if values)
    if not labels:
        return ""
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "dockermem", "timezone": "UTC"}):
        figure = Figure(figsize=(10, 0.6 + 2.4 * len(labels)), layout="constrained")
        axes = figure.subplots(len(labels), 1, sharex=True, squeeze=False)[:, 0]
        for ax, label in zip(axes, labels, strict=True):
            times = [t for t, _ in series[label]]
            usage = [value / MIB for _, value in series[label]]
            ax.plot(times, usage, marker="." if len(times) == 1 else "", linewidth=1.2, label="usage")
            service = by_label.get(label)
            lines = (
                []
                if service is None
                else [
                    ("limit", service.memory_limit_bytes, "#b00020", "--"),
                    ("recommended", service.recommended_limit_bytes, "#1b7f3b", ":"),
                ]
            )
            top = max(usage)
            for name, value, color, style in lines:
                if value is not None:
                    label_text = f"{name} {format_bytes(value)}"
                    ax.axhline(value / MIB, color=color, linestyle=style, label=label_text)
                    top = max(top, value / MIB)
            ax.set_title(label, loc="left", fontsize="medium")
            ax.set_ylabel("MiB")
            ax.set_ylim(0, max(top, 1.0) * 1.25)  # room above the highest line for the legend
            ax.grid(alpha=0.3)
            ax.legend(loc="upper left", fontsize="small")
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        axes[-1].xaxis.set_major_locator(locator)
        axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    # Inline in HTML: no XML prolog or doctype, and no metadata block.
    svg = svg[svg.index("<svg") :]
    return re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
