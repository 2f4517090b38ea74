"""`fit` as text and JSON: how many test workers fit, with the arithmetic."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from dockermem.core.fit import WorkerPlan
from dockermem.render.documents import SCHEMA_VERSION
from dockermem.units import format_bytes


def fit_document(plan: WorkerPlan) -> dict[str, Any]:
    """The `fit --json` object."""
    size = plan.per_worker
    return {
        "schema": SCHEMA_VERSION,
        "workers": plan.workers,
        "per_worker_bytes": None if size is None else size.bytes,
        "per_worker_from": None if size is None else size.source,
        "per_worker_recorded_runs": None if size is None or size.source != "recorded" else size.runs,
        "available_bytes": plan.available_bytes,
        "stack_bytes": plan.stack_bytes,
        "budget_bytes": plan.budget_bytes,
    }


def build_fit_report(plan: WorkerPlan) -> Group:
    """The number, then the arithmetic behind it."""
    workers = plan.workers
    style = "bold green" if workers > 0 else "bold red"
    size = 0 if plan.per_worker is None else plan.per_worker.bytes
    described = "" if plan.per_worker is None else plan.per_worker.describe()
    return Group(
        Text(f"{workers} worker{'s' if workers != 1 else ''} fit beside the stack", style=style),
        Text(
            f"({format_bytes(plan.budget_bytes)} budget − {format_bytes(plan.stack_bytes)} stack = "
            f"{format_bytes(plan.available_bytes)}) // {described} = {workers}"
        ),
        Text(f"in bytes: ({plan.budget_bytes} − {plan.stack_bytes}) // {size} = {workers}", style="dim"),
    )
