"""`up`'s progress (live table or plain lines) and its final report or failure analysis."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dockermem.core.events import Event, EventType, Frame
from dockermem.core.lifecycle import StartOutcome
from dockermem.core.thresholds import ThresholdLevel
from dockermem.render.styles import style_for
from dockermem.render.tables import build_memory_table, usage_text
from dockermem.render.watch import EVENT_STYLES
from dockermem.units import format_bytes, format_percent


def memory_summary_line(frame: Frame) -> str:
    """One line: host memory, then each container's usage / limit."""
    parts = [f"host {frame.host.memory_percent:.1f}%"]
    parts += [
        f"{c.service or c.name} {format_bytes(c.memory_usage_bytes)}"
        + (f"/{format_bytes(c.memory_limit_bytes)}" if c.memory_limit_bytes is not None else "")
        for c in frame.containers
    ]
    return " | ".join(parts)


def progress_line(happening: Frame | Event, elapsed_seconds: float) -> Text:
    """A plain progress line for logs (CI): a frame as a memory summary, an event as it is."""
    stamp = f"[{elapsed_seconds:6.1f}s] "
    if isinstance(happening, Frame):
        return Text(stamp + "memory: " + memory_summary_line(happening), style="dim")
    return Text(stamp + happening.message, style=EVENT_STYLES.get(happening.type, ""))


# What a container's life events say of it while the stack starts.
STATE_BY_EVENT = {
    EventType.STARTED: "starting",
    EventType.HEALTHY: "healthy",
    EventType.UNHEALTHY: "unhealthy",
    EventType.EXITED: "exited",
    EventType.GONE: "gone",
    EventType.OOM: "OOM-killed",
}


def starting_states(events: Sequence[Event]) -> dict[str, str]:
    """Each container's state as its events so far tell it (the latest wins)."""
    states: dict[str, str] = {}
    for event in events:
        state = STATE_BY_EVENT.get(event.type)
        if state is not None and event.container is not None:
            states[event.container] = state
    return states


def build_progress_view(
    project: str, elapsed_seconds: float, frame: Frame | None, states: dict[str, str]
) -> Group:
    """The live view while compose starts the stack: each container's state (which are still
    starting is the question during --wait) beside its memory. The events themselves are
    printed above the view, once."""
    header = Text(f"Starting {project} with docker compose up --wait … {elapsed_seconds:.0f}s", style="bold")
    parts: list[RenderableType] = [header]
    if frame is not None:
        level = frame.host_level
        parts.append(
            Text(
                f"Host memory {level.marker} {frame.host.memory_percent:.1f}% "
                f"({format_bytes(frame.host.memory_available_bytes)} available)",
                style=style_for(level),
            )
        )
        table = Table(title="CONTAINERS", title_justify="left")
        for column in ("Service", "State", "Memory", "Mem %"):
            table.add_column(column, justify="right" if column.startswith("Mem") else "left")
        for container in frame.containers:
            table.add_row(
                container.service or container.name,
                states.get(container.name, "running"),
                usage_text(container),
                format_percent(container.memory_percent),
                style=style_for(container.level),
            )
        if not frame.containers:
            table.add_row("(none yet)", "", "", "")
        parts.append(table)
    return Group(*parts)


def build_start_report(outcome: StartOutcome) -> Group:
    """After `up`: the final memory report, or the analysis of the failure."""
    parts: list[RenderableType] = []
    if outcome.ok:
        parts.append(
            Text(
                f"✅ {outcome.project}: every service is healthy ({outcome.elapsed_seconds:.1f}s"
                + (", seen in the engine's events)" if outcome.ready_by_events else ")"),
                style="green",
            )
        )
        if outcome.snapshot is not None:
            parts.append(build_memory_table(outcome.snapshot.containers))
        return Group(*parts)
    if outcome.engine_error is not None:
        parts.append(
            Text(f"❌ {outcome.project}: the engine stopped answering during the start", style="bold red")
        )
        if outcome.compose_message:
            parts.append(Text(f"compose: {outcome.compose_message}"))
        if outcome.snapshot is not None:
            parts.append(Text("Memory at the last sample before it stopped:"))
            parts.append(build_memory_table(outcome.snapshot.containers))
        parts.append(Text(outcome.engine_error, style="red"))
        return Group(*parts)
    if outcome.compose_returncode is None and outcome.interrupted_by is None and not outcome.ready_by_events:
        parts.append(Text(f"❌ {outcome.project}: {outcome.compose_message}", style="bold red"))
        return Group(*parts)
    if outcome.interrupted_by is not None:
        parts.append(Text(f"Interrupted: {outcome.project} was left as below.", style="bold yellow"))
    else:
        parts.append(Text(f"❌ {outcome.project} did not start", style="bold red"))
        if outcome.compose_message:
            parts.append(Text(f"compose: {outcome.compose_message}"))
    parts.append(build_services_table(outcome))
    parts.extend(Text(f"🚨 {kill.describe()}", style="bold red") for kill in outcome.ooms)
    if outcome.snapshot is not None:
        snapshot = outcome.snapshot
        engine_total = snapshot.engine.memory_total_bytes
        engine_percent = 100.0 * snapshot.containers_memory_bytes / engine_total
        parts.append(
            Text(
                f"Host memory {snapshot.host_memory_level.marker} {snapshot.host.memory_percent:.1f}% "
                f"({format_bytes(snapshot.host.memory_available_bytes)} available); engine "
                f"{format_percent(engine_percent)} in containers of {format_bytes(engine_total)}"
            )
        )
    if outcome.memory_verdict:
        parts.append(Text(outcome.memory_verdict, style="bold"))
    parts.extend(Text(f"Note: {note}", style="yellow") for note in outcome.notes)
    if outcome.brought_down:
        parts.append(Text("The stack was brought down (--down-on-failure)."))
    return Group(*parts)


def build_services_table(outcome: StartOutcome) -> Group:
    """Each service: state, health, exit code, memory against its limit and peak; below, the
    last health check's output of each service that is not healthy, in full (the cause is often
    at its end)."""
    table = Table(title="SERVICES", title_justify="left")
    for column in ("Service", "State", "Health", "Exit", "Memory", "Peak"):
        table.add_column(column)
    for service in outcome.services:
        style = "" if service.healthy else "red"
        memory = usage_text(service.memory) if service.memory is not None else "—"
        if service.memory is not None and service.memory.level >= ThresholdLevel.CRITICAL:
            style = style_for(service.memory.level)
        table.add_row(
            service.service,
            service.state,
            # A stopped container keeps its last health status (`unhealthy` once it died): no news.
            (service.health if service.state == "running" else None) or "—",
            "—" if service.exit_code is None else str(service.exit_code),
            memory,
            "—" if service.peak_bytes is None else format_bytes(service.peak_bytes),
            style=style,
        )
    said = [
        Text(f"{service.service}: last health check: {service.last_health_output.strip()}", style="red")
        for service in outcome.services
        if service.last_health_output and not service.healthy
    ]
    return Group(table, *said)
