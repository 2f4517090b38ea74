"""Pure renderers: a snapshot in, text out, on a fixed-width console without colour."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from rich.console import Console

from dockermem.core.counters import CleanupCounters
from dockermem.core.host import HostMemory
from dockermem.core.snapshot import ContainerMemory, ResourceCount, ResourceSnapshot
from dockermem.core.thresholds import ThresholdLevel
from dockermem.docker.models import EngineInfo
from dockermem.render.documents import health_document, stats_document
from dockermem.render.styles import format_bytes, style_for
from dockermem.render.tables import build_health_report, build_statistics

MIB = 1024**2
GIB = 1024**3


def container(name: str, usage_mib: float, limit_mib: int | None, level: ThresholdLevel) -> ContainerMemory:
    usage = int(usage_mib * MIB)
    return ContainerMemory(
        id=f"{name}-id",
        name=f"netra-{name}",
        project="netra",
        service=name,
        memory_usage_bytes=usage,
        memory_limit_bytes=None if limit_mib is None else limit_mib * MIB,
        memory_percent=None if limit_mib is None else round(100 * usage / (limit_mib * MIB), 2),
        cpu_percent=5.2,
        level=level,
    )


SNAPSHOT = ResourceSnapshot(
    taken_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
    project="netra",
    host=HostMemory(16 * GIB, int(2.4 * GIB), int(13.6 * GIB), 15.0, 8.5),
    host_memory_level=ThresholdLevel.SAFE,
    host_cpu_level=ThresholdLevel.SAFE,
    engine=EngineInfo("ci-runner", "20.10.24", "Debian", 16 * GIB, 4, "2", "systemd"),
    max_memory_bytes=8 * GIB,
    counts=(
        ResourceCount("containers", 5, 20, ThresholdLevel.SAFE),
        ResourceCount("networks", 2, 15, ThresholdLevel.SAFE),
        ResourceCount("volumes", 2, 10, ThresholdLevel.SAFE),
    ),
    containers=(
        container("backend", 512, 2048, ThresholdLevel.SAFE),
        container("postgres", 900, 1024, ThresholdLevel.CRITICAL),
        container("redis", 64, None, ThresholdLevel.SAFE),
    ),
    high_memory=(container("postgres", 900, 1024, ThresholdLevel.CRITICAL),),
)


def render(renderable: object) -> str:
    console = Console(record=True, width=100, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_health_report_follows_the_designs_sample() -> None:
    text = render(build_health_report(SNAPSHOT))
    lines = text.splitlines()
    assert "DOCKERMEM HEALTH REPORT" in lines[0]
    assert "Engine: ci-runner (Docker 20.10.24, cgroup 2, 4 CPUs, 16.0GiB)" in text
    assert "Scope: project netra  Containers checked: 3" in text
    system = next(line for line in lines if "System Memory" in line)
    assert "✅ 15.0%" in system and "2.40GiB / 16.0GiB" in system
    assert "✅ 25.0%  5 / 20 (DOCKER_MAX_CONTAINERS)" in next(
        line for line in lines if line.strip().startswith("Containers  ")
    )
    postgres = next(line for line in lines if "netra-postgres" in line)
    assert "900MiB / 1.00GiB" in postgres and "❌ 87.9%" in postgres and "5.2%" in postgres
    redis = next(line for line in lines if "netra-redis" in line)
    assert "64.0MiB / no limit" in redis
    assert "No memory limit: netra-redis" in text
    assert "Overall: ❌ CRITICAL (netra-postgres)" in text
    legend = " ".join(text.split())  # wrapped to the width
    assert "❌ CRITICAL from 75%" in legend and "warning event comes at 80% of its limit" in legend


def render_at(renderable: object, width: int) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_overall_verdict_follows_every_row_cpu_included_at_80_and_160_columns() -> None:
    busy = replace(
        SNAPSHOT, host=replace(SNAPSHOT.host, cpu_percent=96.0), host_cpu_level=ThresholdLevel.EMERGENCY
    )
    assert busy.worst_level is ThresholdLevel.EMERGENCY
    for width in (80, 160):
        text = render_at(build_health_report(busy), width)
        assert "Overall: 🚨 EMERGENCY (System CPU)" in text
        assert "Scope: project netra  Containers checked: 3" in text  # on a line of its own, whole
        assert max(len(line) for line in text.splitlines()) <= width


def test_statistics_say_which_containers_are_critical_below_the_80_percent_warning() -> None:
    # 78.7 % of its limit: CRITICAL (from 75 %), below the container warning (80 %).
    near = container("postgres", 805.9, 1024, ThresholdLevel.CRITICAL)
    snapshot = replace(SNAPSHOT, containers=(near,), high_memory=())
    text = render_at(build_statistics(snapshot, CleanupCounters(), 80.0), 80)
    assert "No container is above the 80% warning of its limit." in text
    said = " ".join(text.split())
    assert "1 below it but at CRITICAL or above (from 75% of a limit" in said and "netra-postgres" in said
    assert "1 container, 0 networks, 0 volumes" in render_at(
        build_statistics(snapshot, CleanupCounters(containers_removed=1), 80.0), 160
    )


def test_statistics_list_high_memory_and_cleanup_totals() -> None:
    counters = CleanupCounters(
        cleanup_runs=3, containers_removed=7, networks_removed=2, volumes_removed=1, bytes_freed=5 * MIB
    )
    text = render(build_statistics(SNAPSHOT, counters, 80.0))
    assert "Cleanup runs" in text and " 3" in text
    assert "7 containers, 2 networks, 1 volume (5.00MiB freed)" in text
    assert "CONTAINERS ABOVE 80% OF THEIR LIMIT" in text
    assert "netra-postgres" in text.split("CONTAINERS ABOVE")[1]


def test_podman_stats_that_count_the_page_cache_are_said_so() -> None:
    podman = replace(SNAPSHOT, engine=replace(SNAPSHOT.engine, kind="podman", server_version="4.3.1"))
    assert not health_document(SNAPSHOT)["memory_includes_cache"]
    document = health_document(podman)
    assert document["memory_includes_cache"] and document["engine"]["kind"] == "podman"
    text = render(build_health_report(podman))
    assert "Podman 4.3.1" in text and "it counts the page cache" in text
    # Read from the cgroup files, the figures are the kernel's: no note.
    assert not health_document(replace(podman, source="cgroup"))["memory_includes_cache"]
    assert "page cache" not in render(build_health_report(replace(podman, source="cgroup")))


def test_json_contract_fields_and_types() -> None:
    document = json.loads(json.dumps(health_document(SNAPSHOT)))
    assert document["schema"] == 1
    assert set(document["host"]) >= {
        "memory_total_bytes",
        "memory_used_bytes",
        "memory_available_bytes",
        "memory_percent",
        "cpu_percent",
    }
    assert document["engine"]["limits"] == {
        "containers": 20,
        "networks": 15,
        "volumes": 10,
        "memory_bytes": 8 * GIB,
    }
    redis = document["containers"][2]
    assert redis == {
        "id": "redis-id",
        "name": "netra-redis",
        "project": "netra",
        "service": "redis",
        "memory_usage_bytes": 64 * MIB,
        "memory_limit_bytes": None,
        "memory_percent": None,
        "cpu_percent": 5.2,
        "level": "safe",
    }
    stats = stats_document(SNAPSHOT, CleanupCounters(cleanup_runs=1), 80.0)
    assert stats["cleanup"]["cleanup_runs"] == 1
    assert stats["high_memory"] == {"threshold_percent": 80.0, "containers": ["netra-postgres"]}


def test_formats_and_styles() -> None:
    assert format_bytes(0) == "0B"
    assert format_bytes(1536) == "1.50KiB"
    assert format_bytes(256 * MIB) == "256MiB"
    assert format_bytes(int(60.25 * MIB)) == "60.2MiB"
    assert style_for(ThresholdLevel.EMERGENCY) != style_for(ThresholdLevel.SAFE)
