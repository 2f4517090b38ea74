"""The preflight verdict as a Rich renderable."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dockermem.core.preflight import PreflightResult, ServiceNeed
from dockermem.units import format_bytes


def preflight_line(result: PreflightResult) -> Text:
    """`up`'s one line for a preflight that passed: `✅ preflight PASS: needs 640MiB of 20.1GiB
    available (after a 2.00GiB margin)`."""
    return Text(
        f"✅ preflight PASS: needs {format_bytes(result.required_bytes)} of "
        f"{format_bytes(result.available_bytes)} available (after a "
        f"{format_bytes(result.budget.margin_bytes)} margin)",
        style="green",
    )


def build_preflight_report(result: PreflightResult) -> Group:
    """PASS or FAIL, need / available / margin side by side, services, counts and advice."""
    verdict = Text("PASS", style="bold green") if result.ok else Text("FAIL", style="bold white on red")
    title = Text.assemble("Preflight ", verdict, f"  project {result.project}")
    if result.selected:
        title.append(f"  services {', '.join(result.selected)} and what they depend on")
    if result.compose_profiles:
        title.append(f"  compose profiles {', '.join(result.compose_profiles)}")
    if result.profile:
        title.append(f"  memory profile {result.profile}")
    budget = result.budget
    figures = Table(show_header=True, box=None)
    for column in ("Need", "Available", "Margin", "Host available", "Engine free", "Cap"):
        figures.add_column(column, justify="right")
    figures.add_row(
        format_bytes(result.required_bytes),
        Text(format_bytes(result.available_bytes), style="" if result.memory_ok else "red"),
        format_bytes(budget.margin_bytes),
        format_bytes(budget.host_available_bytes),
        "same as host" if budget.engine_free_bytes is None else format_bytes(budget.engine_free_bytes),
        format_bytes(budget.cap_bytes),
    )
    services = Table(title="SERVICES", title_justify="left")
    services.add_column("Service")
    services.add_column("Limit", justify="right")
    services.add_column("Reservation", justify="right")
    services.add_column("Counted", justify="right")
    for service in result.services:
        services.add_row(
            service.name,
            Text("unbounded", style="yellow")
            if service.limit_bytes is None
            else format_bytes(service.limit_bytes),
            "—" if service.reservation_bytes is None else format_bytes(service.reservation_bytes),
            _counted_text(service),
        )
    counts = Table(title="DOCKER RESOURCES", title_justify="left")
    counts.add_column("Resource")
    counts.add_column("Now", justify="right")
    counts.add_column("Adds", justify="right")
    counts.add_column("Max", justify="right")
    counts.add_column("")
    for count in result.counts:
        counts.add_row(
            count.kind.capitalize(),
            str(count.current),
            str(count.adding),
            str(count.maximum),
            Text("✅") if count.ok else Text("❌ over", style="red"),
        )
    parts: list[RenderableType] = [title, figures, services, counts]
    if result.recommendations:
        parts.append(Text("Recommendations:", style="bold"))
        # Each a bullet whose wrapped lines hang under its first word, at any width.
        advice = Table.grid(padding=(0, 1, 0, 0))
        advice.add_column(no_wrap=True)
        advice.add_column(ratio=1)
        for line in result.recommendations:
            advice.add_row("  •", line)
        parts.append(advice)
    return Group(*parts)


def _counted_text(service: ServiceNeed) -> Text:
    """`64.0MiB declared`, `1.20GiB recorded over 3 runs`, `512MiB default guess` (with the
    replicas: `2 × 64.0MiB declared`)."""
    figure = format_bytes(service.total_bytes)
    if service.replicas != 1:
        figure = f"{figure} ({service.replicas} × {format_bytes(service.counted_bytes)})"
    style = "yellow" if service.estimate == "default" else "dim"
    return Text.assemble(figure, " ", (service.estimate_text, style))
