"""Replica planning for `up --scale SERVICE=MIN..MAX`: how many replicas of each scaled service
fit the preflight's budget beside the rest of the stack. The choosing is pure; `plan_scale`
runs the preflight that gives it its figures. The autoscaler (`core/autoscale.py`) starts from
such a plan, and `running_plan` reads one off a stack that already runs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from dockermem.config import Settings
from dockermem.core.preflight import PreflightResult, run_preflight, with_replicas
from dockermem.docker.client import DockerClient
from dockermem.errors import ConfigError

# `SERVICE=N` or `SERVICE=MIN..MAX`; the service name as compose allows it.
SCALE_PATTERN = re.compile(r"^([a-zA-Z0-9][a-zA-Z0-9._-]*)=(\d+)(?:\.\.(\d+))?$")


@dataclass(frozen=True)
class ScaleRange:
    """The replica counts the user allows for one service (`text` as given, for messages)."""

    service: str
    minimum: int
    maximum: int
    text: str = ""

    @property
    def fixed(self) -> bool:
        return self.minimum == self.maximum


def parse_scale(text: str) -> ScaleRange:
    """`SERVICE=N` or `SERVICE=MIN..MAX`; a ValueError that names the value otherwise."""
    match = SCALE_PATTERN.match(text.strip())
    if match is None:
        if re.search(r"=\s*-|\.\.\s*-", text):
            raise ValueError(f"--scale {text!r}: a replica count cannot be negative")
        raise ValueError(f"--scale {text!r}: expected SERVICE=N or SERVICE=MIN..MAX (whole numbers)")
    service, low, high = match.groups()
    minimum, maximum = int(low), int(high if high is not None else low)
    if minimum > maximum:
        raise ValueError(f"--scale {text!r}: MIN {minimum} is above MAX {maximum}")
    return ScaleRange(service, minimum, maximum, text.strip())


def check_unique(ranges: Sequence[ScaleRange]) -> None:
    """One range per service."""
    seen: set[str] = set()
    for scale in ranges:
        if scale.service in seen:
            raise ValueError(f"--scale {scale.text!r}: {scale.service} is given more than once")
        seen.add(scale.service)


@dataclass(frozen=True)
class ScaledService:
    """One service whose replica count is chosen by memory: the range allowed, the figure each
    replica counts at (and where it came from), the count, and what one more would need."""

    scale: ScaleRange
    per_replica_bytes: int
    counted_from: str = "limit"  # "limit", "reservation", "recorded peak" or "default"
    replicas: int = 0
    next_need_bytes: int | None = None  # the stack's need with one replica more (None at MAX)

    @property
    def service(self) -> str:
        return self.scale.service


@dataclass(frozen=True)
class ScalePlan:
    """The replica counts chosen against the budget, with the rest of the stack beside them."""

    budget_bytes: int
    fixed_bytes: int  # the services that are not scaled
    services: tuple[ScaledService, ...]

    @property
    def required_bytes(self) -> int:
        return self.fixed_bytes + sum(s.replicas * s.per_replica_bytes for s in self.services)

    @property
    def ok(self) -> bool:
        return self.required_bytes <= self.budget_bytes

    @property
    def replicas(self) -> dict[str, int]:
        return {scaled.service: scaled.replicas for scaled in self.services}


def choose_replicas(budget_bytes: int, fixed_bytes: int, services: Sequence[ScaledService]) -> ScalePlan:
    """The largest replica counts within the ranges whose memory fits the budget beside the
    fixed part of the stack. Every service starts at its MIN (a plan that does not fit even
    then is returned as it is: not ok); replicas are then added one service at a time, in
    turn, while the next one fits, so that two scaled services share what is left."""
    counts = [service.scale.minimum for service in services]
    total = fixed_bytes + sum(c * s.per_replica_bytes for c, s in zip(counts, services, strict=True))
    if total <= budget_bytes:
        growing = True
        while growing:
            growing = False
            for index, service in enumerate(services):
                if (
                    counts[index] < service.scale.maximum
                    and total + service.per_replica_bytes <= budget_bytes
                ):
                    counts[index] += 1
                    total += service.per_replica_bytes
                    growing = True
    chosen = tuple(
        replace(
            service,
            replicas=count,
            next_need_bytes=None if count >= service.scale.maximum else total + service.per_replica_bytes,
        )
        for count, service in zip(counts, services, strict=True)
    )
    return ScalePlan(budget_bytes, fixed_bytes, chosen)


@dataclass(frozen=True)
class ScaleFit:
    """The preflight at the chosen replica counts (at MIN when not even MIN fits) and the plan."""

    preflight: PreflightResult
    plan: ScalePlan


async def plan_scale(
    client: DockerClient,
    settings: Settings,
    files: Sequence[Path],
    project: str | None,
    ranges: Sequence[ScaleRange],
    *,
    compose_profiles: Sequence[str] = (),
    env_files: Sequence[Path] = (),
    services: Sequence[str] = (),
) -> ScaleFit:
    """Run the preflight with each scaled service at its MIN, then choose the replica counts
    within the budget it measured. An unknown service is bad usage (ConfigError, exit 2).
    `services`: those `up SERVICE...` names, as `run_preflight` takes them."""
    at_minimum = await run_preflight(
        client, settings, files, project, None, replicas={r.service: r.minimum for r in ranges},
        compose_profiles=compose_profiles, env_files=env_files, services=services,
    )  # fmt: skip
    plan = plan_from_preflight(at_minimum, ranges)
    if not plan.ok:
        return ScaleFit(at_minimum, plan)
    return ScaleFit(with_replicas(settings, at_minimum, plan.replicas), plan)


def plan_from_preflight(preflight: PreflightResult, ranges: Sequence[ScaleRange]) -> ScalePlan:
    """The choice, from the figures of a preflight (each service at its counted figure)."""
    needs = {service.name: service for service in preflight.services}
    for scale in ranges:
        if scale.service not in needs:
            known = ", ".join(sorted(needs)) or "none"
            raise ConfigError(
                f"--scale {scale.text!r}: no service {scale.service!r} in the stack (services: {known})"
            )
    scaled = {scale.service for scale in ranges}
    fixed = sum(service.counted_bytes for service in preflight.services if service.name not in scaled)
    services = [
        ScaledService(scale, needs[scale.service].counted_bytes, needs[scale.service].counted_from)
        for scale in ranges
    ]
    return choose_replicas(preflight.available_bytes, fixed, services)


async def running_plan(
    client: DockerClient,
    settings: Settings,
    files: Sequence[Path],
    project: str | None,
    ranges: Sequence[ScaleRange],
) -> tuple[str, ScalePlan]:
    """For a stack that already runs (`watch --autoscale`): the project, and each scaled
    service's figures with its current replica count in place of a choice."""
    preflight = await run_preflight(client, settings, files, project)
    plan = plan_from_preflight(preflight, ranges)
    compose_project = project or preflight.project
    current: dict[str, int] = {}
    for scale in ranges:
        replicas = await client.container.replicas(compose_project, scale.service)
        current[scale.service] = sum(1 for r in replicas if r.status == "running")
    services = tuple(replace(s, replicas=current[s.service], next_need_bytes=None) for s in plan.services)
    return compose_project, replace(plan, services=services)
