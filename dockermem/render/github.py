"""GitHub Actions: a Markdown step summary and workflow-command annotations (pure)."""

from __future__ import annotations

from dockermem.core.lifecycle import StartOutcome
from dockermem.core.watch import WatchEvent, WatchEventType, WatchSummary
from dockermem.units import format_bytes

ANNOTATED = {
    WatchEventType.WARNING: "warning",
    WatchEventType.LEAK: "warning",
    WatchEventType.EMERGENCY: "error",
    WatchEventType.OOM: "error",
}


def limit_text(limit: int | None) -> str:
    return "no limit" if limit is None else format_bytes(limit)


def annotation(event: WatchEvent) -> str | None:
    """`::warning::...` or `::error::...` for events worth one, else None."""
    kind = ANNOTATED.get(event.type)
    if kind is None:
        return None
    message = event.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{kind} title=dockermem {event.type.value}::{message}"


def watch_summary_markdown(summary: WatchSummary, events: list[WatchEvent]) -> str:
    """The step summary of a `watch --duration`."""
    verdict = (
        "❌ OOM kill or EMERGENCY seen" if summary.oom_seen or summary.emergency_seen else "✅ no OOM kill"
    )
    lines = [
        "## dockermem watch",
        "",
        verdict,
        "",
        "| engine | container | peak | limit |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {engine} | {name} | {format_bytes(peak)} | {limit_text(limit)} |"
        for engine, name, peak, limit in summary.peaks
    ]
    notable = [event for event in events if event.type in ANNOTATED]
    if notable:
        lines += ["", "### Events", ""] + [
            f"- {event.ts:%H:%M:%S} {event.message}" for event in notable[-20:]
        ]
    return "\n".join(lines) + "\n"


def start_summary_markdown(outcome: StartOutcome) -> str:
    """The step summary of an `up`."""
    verdict = "✅ every service is healthy" if outcome.ok else "❌ the stack did not start"
    lines = [f"## dockermem up: {outcome.project}", "", verdict, ""]
    lines += ["| service | state | health | memory | peak |", "|---|---|---|---|---|"]
    for service in outcome.services:
        memory = "—"
        if service.memory is not None:
            limit = service.memory.memory_limit_bytes
            memory = f"{format_bytes(service.memory.memory_usage_bytes)} / " + (
                "no limit" if limit is None else format_bytes(limit)
            )
        peak = "—" if service.peak_bytes is None else format_bytes(service.peak_bytes)
        health = service.health or "—"
        lines.append(f"| {service.service} | {service.state} | {health} | {memory} | {peak} |")
    lines += [""] + [f"- 💥 {kill.describe()}" for kill in outcome.ooms]
    if outcome.memory_verdict:
        lines += ["", outcome.memory_verdict]
    return "\n".join(lines) + "\n"
