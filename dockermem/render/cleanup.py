"""Cleanup plans and outcomes as Rich renderables."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dockermem.core.cleanup import CleanupOutcome, CleanupPlan
from dockermem.units import format_bytes, plural


def build_cleanup_plan(plan: CleanupPlan, dry_run: bool, command_to_remove: str | None = None) -> Group:
    """What goes (or would go), by kind, and what stays in scope with the reason; a dry run
    ends with the command that removes it (`command_to_remove`)."""
    verb = "Would remove" if dry_run else "Removing"
    parts: list[RenderableType] = [Text(f"Cleanup of {plan.scope.describe()}", style="bold")]
    if not plan.projects_found:
        what = "No compose project named" if plan.scope.project is not None else "No compose project matches"
        name = plan.scope.project if plan.scope.project is not None else plan.scope.project_glob
        parts.append(
            Text(
                f"{what} {name!r}: no container, network or volume carries its label. "
                "Check the name (`docker compose ls --all`)."
            )
        )
    elif plan.empty:
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
        size = plan.containers_bytes
        layers = "" if size is None else f", {format_bytes(size)} of writable layers"
        parts.append(
            Text(
                f"Frees {plural(len(plan.containers), 'container')} (stopped: no memory{layers}, and "
                f"their anonymous volumes), {plural(len(plan.networks), 'network')} and "
                f"{plural(len(plan.volumes), 'named volume')}."
            )
        )
    if plan.kept:
        parts.append(Text("Kept:"))
        parts.extend(Text(f"  • {reason}", style="dim") for reason in plan.kept)
    if dry_run and not plan.empty:
        parts.append(Text("Dry run: nothing was removed."))
        if command_to_remove is not None:
            parts.append(Text(f"To remove these: {command_to_remove}"))
    return Group(*parts)


def build_cleanup_outcome(outcome: CleanupOutcome) -> Text:
    """One line of what was removed, and docker's refusals below it."""
    text = Text(
        f"Removed {plural(len(outcome.removed_containers), 'container')}, "
        f"{plural(len(outcome.removed_networks), 'network')}, "
        f"{plural(len(outcome.removed_volumes), 'volume')}."
    )
    for refusal in outcome.refused:
        text.append(f"\n  docker refused: {refusal}", style="yellow")
    return text
