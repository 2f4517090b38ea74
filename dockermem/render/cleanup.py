"""Cleanup plans and outcomes as Rich renderables."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dockermem.core.cleanup import CleanupOutcome, CleanupPlan


def build_cleanup_plan(plan: CleanupPlan, dry_run: bool) -> Group:
    """What goes (or would go), by kind, and what stays in scope with the reason."""
    verb = "Would remove" if dry_run else "Removing"
    parts: list[RenderableType] = [Text(f"Cleanup of {plan.scope.describe()}", style="bold")]
    if plan.empty:
        parts.append(Text("Nothing to remove."))
    else:
        table = Table(title=verb, title_justify="left")
        table.add_column("Kind")
        table.add_column("Name")
        table.add_column("Project")
        table.add_column("State")
        for container in plan.containers:
            table.add_row("container", container.name, container.project or "", container.state)
        for network in plan.networks:
            table.add_row("network", network.name, network.project or "", "")
        for volume in plan.volumes:
            table.add_row("volume", volume.name, volume.project or "", "")
        parts.append(table)
        parts.append(
            Text(
                f"Frees {len(plan.containers)} containers (and their anonymous volumes), "
                f"{len(plan.networks)} networks and {len(plan.volumes)} named volumes."
            )
        )
    if plan.kept:
        parts.append(Text("Kept:"))
        parts.extend(Text(f"  • {reason}", style="dim") for reason in plan.kept)
    return Group(*parts)


def build_cleanup_outcome(outcome: CleanupOutcome) -> Text:
    """One line of what was removed, and docker's refusals below it."""
    text = Text(
        f"Removed {len(outcome.removed_containers)} containers, {len(outcome.removed_networks)} networks, "
        f"{len(outcome.removed_volumes)} volumes."
    )
    for refusal in outcome.refused:
        text.append(f"\n  docker refused: {refusal}", style="yellow")
    return text
