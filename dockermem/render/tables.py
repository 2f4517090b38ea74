"""The health report and statistics as Rich renderables (pure: data in, renderable out)."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from dockermem.core.counters import CleanupCounters
from dockermem.core.snapshot import ContainerMemory, ResourceSnapshot
from dockermem.core.thresholds import ThresholdLevel
from dockermem.render.styles import format_bytes, format_percent, style_for
from dockermem.units import plural

if TYPE_CHECKING:
    from dockermem.core.postmortem import PostMortem


def _level_cell(level: ThresholdLevel, percent: float | None) -> Text:
    return Text(f"{level.marker} {format_percent(percent)}", style=style_for(level))


def environment_line(snapshot: ResourceSnapshot) -> str:
    """Which engine the report is about."""
    engine = snapshot.engine
    cgroup = f", cgroup {engine.cgroup_version}" if engine.cgroup_version else ""
    return (
        f"Engine: {engine.name or 'docker'} ({engine.kind.capitalize()} {engine.server_version}{cgroup}, "
        f"{engine.cpus} CPUs, {format_bytes(engine.memory_total_bytes)})"
    )


def scope_line(snapshot: ResourceSnapshot) -> str:
    """Which containers the report is about, and how many were checked."""
    scope = f"project {snapshot.project}" if snapshot.project else "all containers"
    return f"Scope: {scope}  Containers checked: {len(snapshot.containers)}"


# Where each count's maximum comes from (the design's environment variables).
MAXIMUM_SETTINGS = {
    "containers": "DOCKER_MAX_CONTAINERS",
    "networks": "DOCKER_MAX_NETWORKS",
    "volumes": "DOCKER_MAX_VOLUMES",
}


def count_detail(kind: str, used: int, maximum: int) -> str:
    """`15 / 20 (DOCKER_MAX_CONTAINERS)`."""
    setting = MAXIMUM_SETTINGS.get(kind)
    return f"{used} / {maximum}" + (f" ({setting})" if setting else "")


def levels_legend(snapshot: ResourceSnapshot, high_memory_percent: float) -> Text:
    return Text(snapshot.thresholds.legend(high_memory_percent), style="dim")


CACHE_NOTE = (
    "ℹ️  Memory read by `docker stats` on {kind}: it counts the page cache, which the kernel's own "
    "figure (dockermem's cgroup path) leaves out."
)


def cache_note(snapshot: ResourceSnapshot) -> list[RenderableType]:
    """A line under a memory table whose figures include the page cache."""
    if not snapshot.memory_includes_cache:
        return []
    return [Text(CACHE_NOTE.format(kind=snapshot.engine.kind.capitalize()), style="yellow")]


def build_resource_table(snapshot: ResourceSnapshot) -> Table:
    """Host memory and CPU, engine memory, and the resource counts, each with its level."""
    table = Table(title="MEMORY & RESOURCE STATUS", title_justify="left", show_header=False, box=None)
    table.add_column("Resource", min_width=15)
    table.add_column("Level", justify="right", min_width=9)
    table.add_column("Detail")
    host = snapshot.host
    table.add_row(
        "System Memory",
        _level_cell(snapshot.host_memory_level, host.memory_percent),
        f"{format_bytes(host.memory_used_bytes)} / {format_bytes(host.memory_total_bytes)}",
    )
    table.add_row(
        "System CPU",
        _level_cell(snapshot.host_cpu_level, host.cpu_percent),
        "busy, less dockermem's own work",
    )
    engine_total = snapshot.engine.memory_total_bytes
    engine_percent = 100.0 * snapshot.containers_memory_bytes / engine_total
    table.add_row(
        "Engine Memory",
        Text(f"{format_percent(engine_percent)}"),
        f"{format_bytes(snapshot.containers_memory_bytes)} in containers / {format_bytes(engine_total)}",
    )
    for count in snapshot.counts:
        table.add_row(
            count.kind.capitalize(),
            _level_cell(count.level, count.percent),
            count_detail(count.kind, count.used, count.maximum),
        )
    return table


def usage_text(container: ContainerMemory) -> str:
    """`60.2MiB / 256MiB`, or `12.0MiB / no limit`."""
    limit = (
        format_bytes(container.memory_limit_bytes) if container.memory_limit_bytes is not None else "no limit"
    )
    return f"{format_bytes(container.memory_usage_bytes)} / {limit}"


def build_memory_table(containers: tuple[ContainerMemory, ...]) -> Table:
    """The per-container table: name, usage / limit, memory % and CPU %, coloured by level."""
    table = Table(title="CONTAINER MEMORY DETAILS", title_justify="left")
    table.add_column("Container")
    table.add_column("Service")
    table.add_column("Memory Usage", justify="right")
    table.add_column("Mem %", justify="right")
    table.add_column("CPU %", justify="right")
    for container in containers:
        style = style_for(container.level)
        memory_percent = (
            Text(f"{container.level.marker} {format_percent(container.memory_percent)}")
            if container.has_limit
            else Text("⚠️ no limit", style="yellow")
        )
        table.add_row(
            container.name,
            container.service or "—",
            usage_text(container),
            memory_percent,
            format_percent(container.cpu_percent),
            style=style,
        )
    if not containers:
        table.add_row("(no running containers)", "", "", "", "")
    return table


def build_health_report(snapshot: ResourceSnapshot, high_memory_percent: float = 80.0) -> Group:
    """The whole health report, in the shape of the design's sample."""
    parts: list[RenderableType] = [
        Rule("DOCKERMEM HEALTH REPORT", characters="="),
        Text(environment_line(snapshot)),
        Text(scope_line(snapshot)),
        Text(""),
        build_resource_table(snapshot),
        Text(""),
        build_memory_table(snapshot.containers),
        *cache_note(snapshot),
    ]
    unlimited = [c.name for c in snapshot.containers if not c.has_limit]
    if unlimited:
        parts.append(Text(f"⚠️  No memory limit: {', '.join(unlimited)}", style="yellow"))
    parts += post_mortem_lines(snapshot.post_mortem)
    worst = snapshot.worst_level
    rows = snapshot.worst_rows
    named = f" ({', '.join(rows[:3])}{' and more' if len(rows) > 3 else ''})" if rows else ""
    parts.append(Text(f"Overall: {worst.marker} {worst.value.upper()}{named}", style=style_for(worst)))
    parts.append(levels_legend(snapshot, high_memory_percent))
    parts.append(Rule(characters="="))
    return Group(*parts)


def post_mortem_lines(post_mortem: PostMortem | None) -> list[RenderableType]:
    """The OOM kills the kernel's log holds of the containers listed, a line each:
    `12:03:11 worker (shop-worker-1): process memhog (pid 9444, 59.4MiB RSS) at 64.0MiB of its
    64.0MiB limit`; or why the log could not be read."""
    if post_mortem is None:
        return []
    if post_mortem.notice is not None:
        return [Text(f"Note: {post_mortem.notice}", style="dim")]
    if not post_mortem.kills:
        return []
    from dockermem.core.oom import kernel_account

    lines: list[RenderableType] = [Text("OOM kills in the kernel's log:", style="bold red")]
    for logged in post_mortem.kills:
        container = logged.container
        who = container.name if container.service is None else f"{container.service} ({container.name})"
        when = "" if logged.kill.at is None else f"{logged.kill.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC "
        lines.append(Text(f"  {when}{who}{kernel_account(logged.kill)}"))
    return lines


def build_statistics(
    snapshot: ResourceSnapshot, counters: CleanupCounters, high_memory_percent: float
) -> Group:
    """The statistics: host figures, resource counts, cleanup totals and high-memory containers."""
    table = Table(title="DOCKERMEM STATISTICS", title_justify="left", show_header=False, box=None)
    table.add_column("Figure", min_width=24)
    table.add_column("Value")
    host = snapshot.host
    table.add_row("System memory", _level_cell(snapshot.host_memory_level, host.memory_percent))
    table.add_row("System CPU", _level_cell(snapshot.host_cpu_level, host.cpu_percent))
    for count in snapshot.counts:
        table.add_row(
            count.kind.capitalize(),
            _level_cell(count.level, count.percent).append(
                f"  {count_detail(count.kind, count.used, count.maximum)}"
            ),
        )
    table.add_row("Memory limit (max)", format_bytes(snapshot.max_memory_bytes))
    table.add_row("Cleanup runs", str(counters.cleanup_runs))
    table.add_row(
        "Removed by cleanup",
        f"{plural(counters.containers_removed, 'container')}, "
        f"{plural(counters.networks_removed, 'network')}, "
        f"{plural(counters.volumes_removed, 'volume')} ({format_bytes(counters.bytes_freed)} freed)",
    )
    parts: list[RenderableType] = [table, Text(""), *cache_note(snapshot)]
    if snapshot.high_memory:
        high = Table(title=f"CONTAINERS ABOVE {high_memory_percent:g}% OF THEIR LIMIT", title_justify="left")
        high.add_column("Container")
        high.add_column("Memory Usage", justify="right")
        high.add_column("Mem %", justify="right")
        for container in snapshot.high_memory:
            high.add_row(
                container.name,
                usage_text(container),
                format_percent(container.memory_percent),
                style=style_for(container.level),
            )
        parts.append(high)
    else:
        parts.append(Text(f"No container is above the {high_memory_percent:g}% warning of its limit."))
    judged = [
        c for c in snapshot.containers if c.level >= ThresholdLevel.CRITICAL and c not in snapshot.high_memory
    ]
    if judged:
        critical = snapshot.thresholds.critical
        parts.append(
            Text(
                f"{len(judged)} below it but at CRITICAL or above (from {critical:g}% of a limit, or of the "
                f"engine's memory without one): {', '.join(c.name for c in judged[:5])}",
                style=style_for(ThresholdLevel.CRITICAL),
            )
        )
    parts.append(levels_legend(snapshot, high_memory_percent))
    return Group(*parts)
