"""How many test workers (`pytest -n`) fit in the preflight's budget beside the stack: `fit
--per-worker SIZE|auto`, and the pytest plugin's `-n auto` under pytest-xdist. A worker's size is
given, or the peak the history recorded of the suite's workers (the plugin records it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dockermem.config import Settings
from dockermem.core.history import recommend_limit
from dockermem.core.preflight import recorded_runs, run_preflight, with_replicas
from dockermem.core.snapshot import take_snapshot
from dockermem.docker.client import DockerClient
from dockermem.errors import ConfigError
from dockermem.units import format_bytes

# How the history names a test worker's process tree (its peak RSS, recorded by the plugin).
WORKER_SERVICE = "pytest-worker"


@dataclass(frozen=True)
class WorkerSize:
    """The memory one test worker needs, and where the figure comes from: given by the user,
    or the recorded peak of past runs plus the headroom `report` adds to a recommended limit."""

    bytes: int
    source: str  # "given" or "recorded"
    runs: int = 0
    peak_bytes: int | None = None

    def describe(self) -> str:
        if self.source == "recorded":
            runs = f"{self.runs} recorded run{'s' if self.runs != 1 else ''}"
            return f"{format_bytes(self.bytes)} per worker (peak of {runs})"
        return f"{format_bytes(self.bytes)} per worker"


def recorded_worker_size(settings: Settings, project: str) -> WorkerSize | None:
    """The size of one test worker of this stack's suite as the history has it (the peak of
    the last 30 days' runs, plus the headroom), or None when no run recorded one."""
    for service in recorded_runs(settings, project).services:
        if service.service == WORKER_SERVICE and service.samples > 0:
            size = recommend_limit(service.peak_bytes)
            return WorkerSize(size, "recorded", service.runs, service.peak_bytes)
    return None


@dataclass(frozen=True)
class WorkerPlan:
    """How many test workers the budget allows beside the stack (one stack for the run) or
    each with a stack of its own (`per_worker_stacks`), against how many are wanted."""

    project: str
    budget_bytes: int
    stack_bytes: int
    per_worker: WorkerSize | None
    wanted: int | None = None  # None: as many as fit (`fit`)
    per_worker_stacks: bool = False

    @property
    def available_bytes(self) -> int:
        """The budget less the stack's need."""
        return max(0, self.budget_bytes - self.stack_bytes)

    @property
    def fitting(self) -> int | None:
        """The most workers that fit (None when the size of a worker is not known)."""
        if self.per_worker_stacks:
            each = self.stack_bytes + (0 if self.per_worker is None else self.per_worker.bytes)
            return self.budget_bytes // each if each > 0 else None
        if self.per_worker is None:
            return None
        return self.available_bytes // self.per_worker.bytes

    @property
    def workers(self) -> int:
        """The wanted count, lowered to what fits (at least one); without a wanted count, what fits."""
        fitting = self.fitting
        if self.wanted is None:
            return fitting or 0
        return self.wanted if fitting is None else max(1, min(self.wanted, fitting))

    @property
    def fits(self) -> bool:
        """Whether even one worker fits."""
        fitting = self.fitting
        return fitting is None or fitting >= 1

    def arithmetic(self) -> str:
        """`(11.5GiB budget - 4.1GiB stack) / 2.3GiB per worker (peak of 5 recorded runs)`."""
        budget, stack = format_bytes(self.budget_bytes), format_bytes(self.stack_bytes)
        if self.per_worker_stacks:
            worker = "" if self.per_worker is None else f" + {self.per_worker.describe()}"
            return f"{budget} budget / ({stack} stack{worker})"
        size = "an unknown size per worker" if self.per_worker is None else self.per_worker.describe()
        return f"({budget} budget - {stack} stack) / {size}"


async def fit_workers(
    client: DockerClient,
    settings: Settings,
    files: Sequence[Path],
    project: str | None,
    per_worker: WorkerSize | None,
    *,
    compose_profiles: Sequence[str] = (),
    env_files: Sequence[Path] = (),
) -> WorkerPlan:
    """(preflight budget − the stack's need) // the size of one worker (None: the size the
    history recorded for this stack's suite; none recorded is bad usage, exit 2).

    When the stack already runs, each service counts once per replica it has, and what the
    stack uses now is added back to the free memory the budget is measured from (it is the
    stack's own, and already counted in the need)."""
    if per_worker is not None and per_worker.bytes <= 0:
        raise ConfigError(f"--per-worker {per_worker.bytes}: a worker must need more than 0 bytes")
    preflight = await run_preflight(
        client, settings, files, project, compose_profiles=compose_profiles, env_files=env_files
    )
    size = per_worker or recorded_worker_size(settings, preflight.project)
    if size is None:
        raise ConfigError(
            f"--per-worker auto: no run of {preflight.project}'s test suite recorded its workers' memory "
            "(run it once with pytest-xdist and the dockermem plugin, or give a size)"
        )
    compose_project = project or preflight.project
    running = [c for c in await client.container.ls(project=compose_project) if c.state == "running"]
    if not running:
        return WorkerPlan(preflight.project, preflight.available_bytes, preflight.required_bytes, size)
    replicas: dict[str, int] = {}
    for container in running:
        if container.service:
            replicas[container.service] = replicas.get(container.service, 0) + 1
    scaled = with_replicas(settings, preflight, replicas)
    usage = (await take_snapshot(client, settings, compose_project)).containers_memory_bytes
    budget = preflight.budget.with_stack_running(usage).available_bytes
    return WorkerPlan(preflight.project, budget, scaled.required_bytes, size)


async def plan_workers(
    client: DockerClient,
    settings: Settings,
    files: Sequence[Path],
    project: str | None,
    per_worker: WorkerSize | None,
    wanted: int,
    *,
    per_worker_stacks: bool = False,
) -> WorkerPlan:
    """The preflight's budget and the stack's need, against `wanted` workers of `per_worker`
    (None: the size the history has recorded for this stack's suite, if any)."""
    preflight = await run_preflight(client, settings, files, project)
    size = per_worker or recorded_worker_size(settings, preflight.project)
    return WorkerPlan(
        preflight.project,
        preflight.available_bytes,
        preflight.required_bytes,
        size,
        wanted,
        per_worker_stacks,
    )
