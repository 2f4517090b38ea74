"""`docker info`, `docker network ...` and `docker volume ...`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dockermem.docker.models import EngineInfo, NamedResource, Removal
from dockermem.docker.parse import (
    JSON_FORMAT,
    parse_engine_info,
    parse_named_resources,
    parse_volume_times,
    removed_names,
)
from dockermem.docker.runner import DockerRunner

PREDEFINED_NETWORKS = frozenset({"bridge", "host", "none"})


class SystemCommands:
    """`docker info` for one engine."""

    def __init__(self, runner: DockerRunner) -> None:
        self.runner = runner

    async def info(self) -> EngineInfo:
        """The engine's memory, CPUs, version and cgroup setup."""
        result = await self.runner.run(["info", "--format", JSON_FORMAT])
        return parse_engine_info(result.stdout)


class NetworkCommands:
    """`docker network ...` for one engine."""

    def __init__(self, runner: DockerRunner) -> None:
        self.runner = runner

    async def ls(self) -> list[NamedResource]:
        """User-defined networks (docker's predefined bridge, host and none left out)."""
        result = await self.runner.run(["network", "ls", "--no-trunc", "--format", JSON_FORMAT])
        networks = parse_named_resources("docker network ls output", result.stdout)
        return [network for network in networks if network.name not in PREDEFINED_NETWORKS]

    async def remove(self, names: Sequence[str]) -> Removal:
        if not names:
            return Removal((), ())
        result = await self.runner.run(["network", "rm", "--", *names], retries=0, check=False)
        return removed_names(names, result.stdout, result.stderr)


class VolumeCommands:
    """`docker volume ...` for one engine."""

    def __init__(self, runner: DockerRunner) -> None:
        self.runner = runner

    async def ls(self) -> list[NamedResource]:
        """Every volume."""
        result = await self.runner.run(["volume", "ls", "--format", JSON_FORMAT])
        return parse_named_resources("docker volume ls output", result.stdout)

    async def created_at(self, names: Sequence[str]) -> dict[str, datetime | None]:
        """When each volume was made (`docker volume ls` does not say)."""
        if not names:
            return {}
        result = await self.runner.run(
            ["volume", "inspect", "--format", "{{json .Name}} {{json .CreatedAt}}", "--", *names], check=False
        )
        return parse_volume_times(result.stdout)

    async def remove(self, names: Sequence[str]) -> Removal:
        if not names:
            return Removal((), ())
        result = await self.runner.run(["volume", "rm", "--", *names], retries=0, check=False)
        return removed_names(names, result.stdout, result.stderr)
