"""Scaling as text: the replica counts chosen and why, and each change the autoscaler made."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from dockermem.core.autoscale import ScaleEvent
from dockermem.core.scaling import ScaledService, ScalePlan
from dockermem.units import format_bytes

COUNTED_FROM = {
    "limit": "its limit",
    "reservation": "its reservation",
    "recorded peak": "its recorded peak",
    "default": "the unbounded default",
}


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def choice_line(plan: ScalePlan, choice: ScaledService) -> str:
    """One scaled service: the count, the per-replica figure, and what one more would need."""
    counted = COUNTED_FROM.get(choice.counted_from, choice.counted_from)
    head = (
        f"{choice.service}: {choice.replicas} replica{'s' if choice.replicas != 1 else ''} "
        f"(range {choice.scale.minimum}..{choice.scale.maximum}), "
        f"{format_bytes(choice.per_replica_bytes)} each ({counted})"
    )
    if not plan.ok:
        return head + f"; even at {choice.scale.minimum} the stack needs {format_bytes(plan.required_bytes)}"
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
    parts.extend(Text("  " + choice_line(plan, choice)) for choice in plan.services)
    return Group(*parts)


def scale_event_line(event: ScaleEvent) -> str:
    """`12:00:00 scaled api 3 -> 2: CRITICAL: api-3 at 81.0% of its limit (removed proj-api-3)`."""
    return f"{event.at:%H:%M:%S} {event.describe()}"


def build_autoscale_summary(
    changes: Sequence[ScaleEvent], replicas: Mapping[str, int], elapsed_seconds: float
) -> Group:
    """What the autoscaler did over the run, and the counts it left."""
    counts = ", ".join(f"{service} {count}" for service, count in replicas.items())
    parts: list[RenderableType] = [
        Text(
            f"Autoscaling ended after {elapsed_seconds:.0f}s: {len(changes)} "
            f"change{'s' if len(changes) != 1 else ''}; replicas now {counts}",
            style="bold",
        )
    ]
    parts.extend(Text("  " + scale_event_line(event)) for event in changes)
    return Group(*parts)
