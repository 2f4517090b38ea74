"""`fit` as text and JSON: how many test workers fit, with the arithmetic."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from dockermem.core.fit import WorkerFit
from dockermem.render.documents import SCHEMA_VERSION
from dockermem.units import format_bytes


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
