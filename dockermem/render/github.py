"""GitHub Actions: a Markdown step summary and workflow-command annotations (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from dockermem.core.events import Event, EventType, SessionSummary
from dockermem.core.lifecycle import StartOutcome
from dockermem.units import format_bytes

ANNOTATED = {
    EventType.WARNING: "warning",
    EventType.LEAK: "warning",
    EventType.CRITICAL: "warning",
    EventType.EMERGENCY: "error",
    EventType.OOM: "error",
}
MAX_SUMMARY_EVENTS = 20


def limit_text(limit: int | None) -> str:
    return "no limit" if limit is None else format_bytes(limit)


def annotation(event: Event) -> str | None:
    """`::warning::...` or `::error::...` for events worth one, else None."""
    kind = ANNOTATED.get(event.type)
    if kind is None:
        return None
    message = event.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{kind} title=dockermem {event.type.value}::{message}"


def session_summary_markdown(
    title: str,
    summary: SessionSummary,
    start: StartOutcome | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The step summary of any run: the verdict, each service's peak against its limit (and,
    after a start, its state and health), then what happened: OOM kills, EMERGENCY, leaks and
    warnings, and the door's own notes (the plugin's "during test X")."""
    memory_ran_out = summary.oom_seen or summary.emergency_seen
    if start is not None:
        verdict = "✅ every service is healthy" if start.ok else "❌ the stack did not start"
    else:
        verdict = "❌ OOM kill or EMERGENCY seen" if memory_ran_out else "✅ no OOM kill"
    lines = [f"## {title}", "", verdict, ""]
    if start is not None:
        lines += _start_rows(start)
    else:
        lines += ["| engine | container | peak | limit |", "|---|---|---|---|"]
        for peak in summary.peaks:
            figures = f"{format_bytes(peak.peak_bytes)} | {limit_text(peak.limit_bytes)}"
            lines.append(f"| {peak.engine} | {peak.name} | {figures} |")
    # After a start, its OOM kills are described in full below.
    notable = [e for e in summary.events if e.type in ANNOTATED and not (start and e.type is EventType.OOM)]
    said = [*notes]
    if start is not None:
        said += [f"💥 {kill.describe()}" for kill in start.ooms]
        if start.memory_verdict:
            said.append(start.memory_verdict)
    if notable or said:
        lines += ["", "### What happened", ""]
        lines += [f"- {event.ts:%H:%M:%S} {event.message}" for event in notable[-MAX_SUMMARY_EVENTS:]]
        lines += [f"- {line}" for line in said]
    return "\n".join(lines) + "\n"


def _start_rows(start: StartOutcome) -> list[str]:
    rows = ["| service | state | health | memory | peak |", "|---|---|---|---|---|"]
    for service in start.services:
        memory = "—"
        if service.memory is not None:
            usage, limit = service.memory.memory_usage_bytes, service.memory.memory_limit_bytes
            memory = f"{format_bytes(usage)} / {limit_text(limit)}"
        peak = "—" if service.peak_bytes is None else format_bytes(service.peak_bytes)
        rows.append(f"| {service.service} | {service.state} | {service.health or '—'} | {memory} | {peak} |")
    return rows
