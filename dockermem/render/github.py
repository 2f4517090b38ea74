"""GitHub Actions: a Markdown step summary and workflow-command annotations (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from dockermem.core.events import Event, EventType, SessionSummary
from dockermem.core.lifecycle import StartOutcome
from dockermem.units import format_bytes

ANNOTATED = {
    EventType.WARNING: "warning",
    EventType.LEAK: "warning",
    EventType.LEAK_CLEARED: "notice",  # the leak's warning taken back
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
    """The step summary of any run: the verdict; after a start, each service's state, health
    and memory then; each service's peak over the run against its limit, with its OOM kills;
    then what happened (OOM kills, EMERGENCY, leaks, warnings) and the door's own notes (the
    plugin's "during test X")."""
    if start is not None:
        verdict = "✅ every service is healthy" if start.ok else "❌ the stack did not start"
    elif summary.oom_seen or summary.emergency_seen:
        verdict = "❌ OOM kill or EMERGENCY seen"
    else:
        verdict = "✅ no OOM kill"
    lines = [f"## {title}", "", verdict, ""]
    if start is not None and start.services:
        lines += ["### The start", "", *_start_rows(start), ""]
    if summary.peaks:
        lines += ["| service | peak | limit | OOM kills |", "|---|---|---|---|"]
        for service, peak in summary.service_peaks().items():
            figures = f"{format_bytes(peak.peak_bytes)} | {limit_text(peak.limit_bytes)} | {peak.oom_kills}"
            lines.append(f"| {service} | {figures} |")
    notable = _notable(summary.events, start)
    of_note = [*notes]
    if start is not None:
        of_note += [f"💥 {kill.describe()}" for kill in start.ooms]
        if start.memory_verdict:
            of_note.append(start.memory_verdict)
    if notable or of_note:
        lines += ["", "### What happened", ""]
        lines += [f"- {event.ts:%H:%M:%S} {event.message}" for event in notable[-MAX_SUMMARY_EVENTS:]]
        lines += [f"- {line}" for line in of_note]
    return "\n".join(lines) + "\n"


def _notable(events: Sequence[Event], start: StartOutcome | None) -> list[Event]:
    """The events worth a line, but for the start's OOM kills, which are told in full."""
    described: dict[str, int] = {}
    for kill in () if start is None else start.ooms:
        described[kill.container_id] = described.get(kill.container_id, 0) + 1
    notable = []
    for event in events:
        if event.type not in ANNOTATED:
            continue
        if event.type is EventType.OOM and described.get(event.container_id or "", 0) > 0:
            described[event.container_id or ""] -= 1
            continue
        notable.append(event)
    return notable


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
