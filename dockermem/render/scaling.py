"""Scaling as text and JSON: the replica counts chosen and why, each change the autoscaler
made, and how many test workers fit (`fit`)."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from dockermem.core.lifecycle import AutoscaleOutcome
from dockermem.core.scaling import ReplicaChoice, ScaleEvent, ScalePlan, WorkerFit
from dockermem.render.documents import SCHEMA_VERSION
from dockermem.units import format_bytes

COUNTED_FROM = {
    "limit": "its limit",
    "recorded peak": "its recorded peak",
    "default": "the unbounded default",
}


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def choice_line(plan: ScalePlan, choice: ReplicaChoice) -> str:
    """One scaled service: the count, the per-replica figure, and what one more would need."""
    counted = COUNTED_FROM.get(choice.counted_from, choice.counted_from)
    head = (
        f"{choice.service}: {choice.replicas} replica{'s' if choice.replicas != 1 else ''} "
        f"(range {choice.minimum}..{choice.maximum}), "
        f"{format_bytes(choice.per_replica_bytes)} each ({counted})"
    )
    if not plan.ok:
        return head + f"; even at {choice.minimum} the stack needs {format_bytes(plan.required_bytes)}"
    if choice.next_need_bytes is None:
        return head + "; at its maximum"
    over = choice.next_need_bytes - plan.budget_bytes
    return head + (
        f"; a {_ordinal(choice.replicas + 1)} would need {format_bytes(choice.next_need_bytes)} in all, "
        f"{format_bytes(over)} over the budget"
    )


def build_scale_report(plan: ScalePlan) -> Group:
    """The budget, the rest of the stack, and one line per scaled service."""
    verdict = "Scaled to fit" if plan.ok else "Not even the minimum replicas fit"
    title = Text(
        f"{verdict}: budget {format_bytes(plan.budget_bytes)}, the rest of the stack "
        f"{format_bytes(plan.fixed_bytes)}, the stack as chosen {format_bytes(plan.required_bytes)}",
        style="bold" if plan.ok else "bold red",
    )
    parts: list[RenderableType] = [title]
    parts.extend(Text("  " + choice_line(plan, choice)) for choice in plan.choices)
    return Group(*parts)


def scale_event_line(event: ScaleEvent) -> str:
    """`scaled api 3 -> 2: CRITICAL: api-3 at 81.0% of its limit (removed proj-api-3)`."""
    removed = f" (removed {event.removed})" if event.removed else ""
    return (
        f"{event.at:%H:%M:%S} scaled {event.service} {event.from_replicas} -> {event.to_replicas}: "
        f"{event.reason}{removed}"
    )


def scale_event_document(event: ScaleEvent) -> dict[str, Any]:
    """`{"type": "scaled", "ts", "service", "from", "to", "reason", "removed"}`."""
    return {
        "type": "scaled",
        "ts": event.at.isoformat(),
        "service": event.service,
        "from": event.from_replicas,
        "to": event.to_replicas,
        "reason": event.reason,
        "removed": event.removed,
    }


def build_autoscale_summary(outcome: AutoscaleOutcome) -> Group:
    """What the autoscaler did over the run, and the counts it left."""
    counts = ", ".join(f"{service} {count}" for service, count in outcome.replicas.items())
    parts: list[RenderableType] = [
        Text(
            f"Autoscaling ended after {outcome.elapsed_seconds:.0f}s: {len(outcome.events)} "
            f"change{'s' if len(outcome.events) != 1 else ''}; replicas now {counts}",
            style="bold",
        )
    ]
    parts.extend(Text("  " + scale_event_line(event)) for event in outcome.events)
    return Group(*parts)


def fit_document(fit: WorkerFit) -> dict[str, Any]:
    """The `fit --json` object."""
    return {
        "schema": SCHEMA_VERSION,
        "workers": fit.workers,
        "per_worker_bytes": fit.per_worker_bytes,
        "available_bytes": fit.available_bytes,
        "stack_bytes": fit.stack_bytes,
        "budget_bytes": fit.budget_bytes,
    }


def build_fit_report(fit: WorkerFit) -> Group:
    """The number, then the arithmetic behind it."""
    style = "bold green" if fit.workers > 0 else "bold red"
    return Group(
        Text(f"{fit.workers} worker{'s' if fit.workers != 1 else ''} fit beside the stack", style=style),
        Text(
            f"({format_bytes(fit.budget_bytes)} budget − {format_bytes(fit.stack_bytes)} stack = "
            f"{format_bytes(fit.available_bytes)}) // {format_bytes(fit.per_worker_bytes)} per worker "
            f"= {fit.workers}"
        ),
        Text(
            f"in bytes: ({fit.budget_bytes} − {fit.stack_bytes}) // {fit.per_worker_bytes} = {fit.workers}",
            style="dim",
        ),
    )
