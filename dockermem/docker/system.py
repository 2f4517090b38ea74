"""`docker info`, `docker network ...` and `docker volume ...`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import anyio

from dockermem.background import unwrapped_errors
from dockermem.docker.models import EngineInfo, EngineVersion, NamedResource, Removal
from dockermem.docker.parse import (
    JSON_FORMAT,
    info_server_errors,
    parse_engine_info,
    parse_engine_version,
    parse_named_resources,
    parse_volume_times,
    removed_names,
)
from dockermem.docker.runner import DockerRunner, failure_error
from dockermem.errors import DockermemError

PREDEFINED_NETWORKS = frozenset({"bridge", "host", "none"})


class SystemCommands:
    """`docker info` and `docker version` for one engine."""

    def __init__(self, runner: DockerRunner) -> None:
        self.runner = runner

    @staticmethod
    def info_args() -> list[list[str]]:
        """The calls `info` makes: `docker info`, then `docker version`."""
        return [["info", "--format", JSON_FORMAT], ["version", "--format", "{{json .Server}}"]]

    async def info(self) -> EngineInfo:
        """The engine's memory, CPUs, version, cgroup setup and kind (`docker info` and
        `docker version`, side by side). An engine whose `docker version` fails is taken for
        Docker: the info alone is enough for everything but its differences."""
        info_args, version_args = self.info_args()
        version: EngineVersion | None = None

        async def read_version() -> None:
            nonlocal version
            try:
                result = await self.runner.run(version_args, retries=0)
                version = parse_engine_version(result.stdout)
            except DockermemError:
                version = None  # `docker info` says whether the engine answers

        with unwrapped_errors():
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(read_version)
                result = await self.runner.run(info_args)
        if server_errors := info_server_errors(result.stdout):
            raise failure_error(result.argv, result.returncode, server_errors)
        info = parse_engine_info(result.stdout)
        if version is None:
            return info
        return info.with_version(version)


class NetworkCommands:
    """`docker network ...` for one engine."""

    def __init__(self, runner: DockerRunner) -> None:
        self.runner = runner

    @staticmethod
    def ls_args() -> list[str]:
        return ["network", "ls", "--no-trunc", "--format", JSON_FORMAT]

    async def ls(self) -> list[NamedResource]:
        """User-defined networks (docker's predefined bridge, host and none left out)."""
        result = await self.runner.run(self.ls_args())
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

    @staticmethod
    def ls_args() -> list[str]:
        return ["volume", "ls", "--format", JSON_FORMAT]

    async def ls(self) -> list[NamedResource]:
        """Every volume."""
        result = await self.runner.run(self.ls_args())
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
