"""The JSON documents of the commands' `--json` output (schema 1: keep it stable)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: `stats --json` should not load the preflight or cleanup code
    from dockermem.core.cleanup import CleanupOutcome, CleanupPlan
    from dockermem.core.counters import CleanupCounters
    from dockermem.core.postmortem import PostMortem
    from dockermem.core.preflight import PreflightResult
    from dockermem.core.snapshot import ContainerMemory, ResourceSnapshot

SCHEMA_VERSION = 1


def container_document(container: ContainerMemory) -> dict[str, Any]:
    """One container, as every JSON output of dockermem gives it."""
    return {
        "id": container.id,
        "name": container.name,
        "project": container.project,
        "service": container.service,
        "memory_usage_bytes": container.memory_usage_bytes,
        "memory_limit_bytes": container.memory_limit_bytes,
        "memory_percent": container.memory_percent,
        "cpu_percent": container.cpu_percent,
        "level": container.level.value,
    }


def health_document(snapshot: ResourceSnapshot) -> dict[str, Any]:
    """The `health --json` object."""
    host = snapshot.host
    counts = {count.kind: count for count in snapshot.counts}
    return {
        "schema": SCHEMA_VERSION,
        "taken_at": snapshot.taken_at.isoformat(),
        "project": snapshot.project,
        "source": snapshot.source,
        "memory_includes_cache": snapshot.memory_includes_cache,
        "level": snapshot.worst_level.value,
        "host": {
            "memory_total_bytes": host.memory_total_bytes,
            "memory_used_bytes": host.memory_used_bytes,
            "memory_available_bytes": host.memory_available_bytes,
            "memory_percent": host.memory_percent,
            "cpu_percent": host.cpu_percent,
            "memory_level": snapshot.host_memory_level.value,
            "cpu_level": snapshot.host_cpu_level.value,
        },
        "engine": {
            "name": snapshot.engine.name,
            "kind": snapshot.engine.kind,
            "server_version": snapshot.engine.server_version,
            "api_version": snapshot.engine.api_version,
            "memory_total_bytes": snapshot.engine.memory_total_bytes,
            "containers_memory_bytes": snapshot.containers_memory_bytes,
            "containers": counts["containers"].used,
            "networks": counts["networks"].used,
            "volumes": counts["volumes"].used,
            "limits": {
                "containers": counts["containers"].maximum,
                "networks": counts["networks"].maximum,
                "volumes": counts["volumes"].maximum,
                "memory_bytes": snapshot.max_memory_bytes,
            },
        },
        "containers": [container_document(container) for container in snapshot.containers],
        **post_mortem_document(snapshot.post_mortem),
    }


def post_mortem_document(post_mortem: PostMortem | None) -> dict[str, Any]:
    """`health --json`'s OOM kills from the kernel's log, and why it could not be read."""
    if post_mortem is None:
        return {}
    from dockermem.core.oom import kernel_details

    return {
        "kernel_oom_kills": [
            {
                "at": None if logged.kill.at is None else logged.kill.at.isoformat(),
                "container": logged.container.name,
                "container_id": logged.container.id,
                "project": logged.container.project,
                "service": logged.container.service,
                **kernel_details(logged.kill),
            }
            for logged in post_mortem.kills
        ],
        "notices": [] if post_mortem.notice is None else [post_mortem.notice],
    }


def stats_document(
    snapshot: ResourceSnapshot, counters: CleanupCounters, high_memory_percent: float
) -> dict[str, Any]:
    """The `stats --json` object: the health document plus cleanup totals and high-memory list."""
    document = health_document(snapshot)
    document["cleanup"] = asdict(counters)
    document["high_memory"] = {
        "threshold_percent": high_memory_percent,
        "containers": [container.name for container in snapshot.high_memory],
    }
    return document


def preflight_document(result: PreflightResult) -> dict[str, Any]:
    """The `preflight --json` object."""
    budget = result.budget
    return {
        "schema": SCHEMA_VERSION,
        "ok": result.ok,
        "project": result.project,
        "profile": result.profile,
        "memory_profile": result.profile,
        "memory_profile_bytes": result.profile_bytes,
        "compose_profiles": list(result.compose_profiles),
        "selected_services": list(result.selected),
        "required_bytes": result.required_bytes,
        "declared_bytes": result.declared_bytes,
        "guessed_bytes": result.guessed_bytes,
        "available_bytes": result.available_bytes,
        "margin_bytes": budget.margin_bytes,
        "shortfall_bytes": result.shortfall_bytes,
        "host_available_bytes": budget.host_available_bytes,
        "engine_total_bytes": budget.engine_total_bytes,
        "engine_free_bytes": budget.engine_free_bytes,
        "max_memory_bytes": budget.cap_bytes,
        "services": [
            {
                "name": service.name,
                "limit_bytes": service.limit_bytes,
                "reservation_bytes": service.reservation_bytes,
                "counted_bytes": service.counted_bytes,
                "counted_from": service.counted_from,
                "estimate": service.estimate,
                "recorded_runs": service.recorded_runs if service.estimate == "recorded" else None,
                "replicas": service.replicas,
            }
            for service in result.services
        ],
        "counts": {
            count.kind: {
                "current": count.current,
                "adding": count.adding,
                "maximum": count.maximum,
                "ok": count.ok,
            }
            for count in result.counts
        },
        "recommendations": list(result.recommendations),
    }


def cleanup_document(plan: CleanupPlan, outcome: CleanupOutcome | None, dry_run: bool) -> dict[str, Any]:
    """The `cleanup --json` object."""
    return {
        "schema": SCHEMA_VERSION,
        "dry_run": dry_run,
        "scope": plan.scope.describe(),
        "started_at": plan.started_at.isoformat(),
        "projects_found": list(plan.projects_found),
        "containers": [
            {
                "id": c.id,
                "name": c.name,
                "project": c.project,
                "service": c.service,
                "state": c.state,
                "writable_bytes": plan.container_bytes.get(c.id),
            }
            for c in plan.containers
        ],  # fmt: skip
        "networks": [n.name for n in plan.networks],
        "volumes": [v.name for v in plan.volumes],
        "kept": list(plan.kept),
        "removed": None
        if outcome is None
        else {
            "containers": list(outcome.removed_containers),
            "networks": list(outcome.removed_networks),
            "volumes": list(outcome.removed_volumes),
        },
        "refused": [] if outcome is None else list(outcome.refused),
    }
