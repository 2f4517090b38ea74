"""`fit --per-worker SIZE`: how many test workers (`pytest -n`) fit in the preflight's budget
beside the stack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dockermem.config import Settings
from dockermem.core.preflight import run_preflight, with_replicas
from dockermem.core.snapshot import take_snapshot
from dockermem.docker.client import DockerClient
from dockermem.errors import ConfigError


@dataclass(frozen=True)
class WorkerFit:
    """How many workers of a given size fit in the budget beside the stack."""

    per_worker_bytes: int
    budget_bytes: int
    stack_bytes: int

    @property
    def available_bytes(self) -> int:
        return max(0, self.budget_bytes - self.stack_bytes)

    @property
    def workers(self) -> int:
        return self.available_bytes // self.per_worker_bytes


async def fit_workers(
    client: DockerClient,
    settings: Settings,
    files: Sequence[Path],
    project: str | None,
    per_worker_bytes: int,
) -> WorkerFit:
    """(preflight budget − the stack's need) // the size of one worker.

    When the stack already runs, each service counts once per replica it has, and what the
    stack uses now is added back to the free memory the budget is measured from (it is the
    stack's own, and already counted in the need)."""
    if per_worker_bytes <= 0:
        raise ConfigError(f"--per-worker {per_worker_bytes}: a worker must need more than 0 bytes")
    preflight = await run_preflight(client, settings, files, project)
    compose_project = project or preflight.project
    running = [c for c in await client.container.ls(project=compose_project) if c.state == "running"]
    if not running:
        return WorkerFit(per_worker_bytes, preflight.available_bytes, preflight.required_bytes)
    replicas: dict[str, int] = {}
    for container in running:
        if container.service:
            replicas[container.service] = replicas.get(container.service, 0) + 1
    scaled = with_replicas(settings, preflight, replicas)
    usage = (await take_snapshot(client, settings, compose_project)).containers_memory_bytes
    budget = preflight.budget.with_stack_running(usage).available_bytes
    return WorkerFit(per_worker_bytes, budget, scaled.required_bytes)
