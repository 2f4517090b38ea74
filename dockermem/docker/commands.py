"""Typed docker calls: each builds its argv, runs it through the runner and parses the output."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio

from dockermem.docker.models import (
    ComposeContainer,
    ComposeProjectConfig,
    ContainerStats,
    ContainerSummary,
    EngineInfo,
    NamedResource,
)
from dockermem.docker.parse import (
    CONFIG_FILES_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    WORKING_DIR_LABEL,
    parse_compose_config,
    parse_compose_ps,
    parse_container_summaries,
    parse_engine_info,
    parse_named_resources,
    parse_stats_line,
    starts_frame,
    strip_escape_codes,
)
from dockermem.docker.runner import DAEMON_UNREACHABLE, DockerRunner
from dockermem.errors import ComposeFileError, DaemonUnreachableError, DockerCommandError, DockerTimeoutError

JSON_FORMAT = "{{json .}}"
# The compose labels, read exactly with ps's Label function rather than split from the
# comma-joined Labels string (config_files holds commas of its own).
CONTAINER_FORMAT = (
    '{"ID":{{json .ID}},"Names":{{json .Names}},"Image":{{json .Image}},'
    '"State":{{json .State}},"Status":{{json .Status}},"CreatedAt":{{json .CreatedAt}},'
    f'"Project":{{{{json (.Label "{PROJECT_LABEL}")}}}},'
    f'"Service":{{{{json (.Label "{SERVICE_LABEL}")}}}},'
    f'"WorkingDir":{{{{json (.Label "{WORKING_DIR_LABEL}")}}}},'
    f'"ConfigFiles":{{{{json (.Label "{CONFIG_FILES_LABEL}")}}}}}}'
)
PREDEFINED_NETWORKS = frozenset({"bridge", "host", "none"})


class DockerClient:
    """The docker commands dockermem needs, for one engine."""

    def __init__(self, runner: DockerRunner) -> None:
        self.runner = runner

    async def engine_info(self) -> EngineInfo:
        """The engine's memory, CPUs, version and cgroup setup."""
        result = await self.runner.run(["info", "--format", JSON_FORMAT])
        return parse_engine_info(result.stdout)

    async def containers(self, *, project: str | None = None) -> list[ContainerSummary]:
        """Every container, running or not (one compose project's when `project` is given)."""
        args = ["ps", "--all", "--no-trunc", "--format", CONTAINER_FORMAT]
        if project is not None:
            args += ["--filter", f"label={PROJECT_LABEL}={project}"]
        result = await self.runner.run(args)
        return parse_container_summaries(result.stdout)

    async def networks(self) -> list[NamedResource]:
        """User-defined networks (docker's predefined bridge, host and none left out)."""
        result = await self.runner.run(["network", "ls", "--no-trunc", "--format", JSON_FORMAT])
        networks = parse_named_resources("docker network ls output", result.stdout)
        return [network for network in networks if network.name not in PREDEFINED_NETWORKS]

    async def volumes(self) -> list[NamedResource]:
        """Every volume."""
        result = await self.runner.run(["volume", "ls", "--format", JSON_FORMAT])
        return parse_named_resources("docker volume ls output", result.stdout)

    async def stats_snapshot(self, container_ids: Sequence[str]) -> list[ContainerStats]:
        """One `docker stats` reading of the given running containers.

        Reads the first full frame of the streaming form: `--no-stream` makes the daemon
        sample twice (about 2 s), while the stream's first frame comes sooner.
        """
        if not container_ids:
            return []
        wanted = set(container_ids)
        seen: dict[str, ContainerStats] = {}
        timeout = self.runner.limits.timeout_seconds
        args = ["stats", "--format", JSON_FORMAT, *container_ids]
        with anyio.move_on_after(timeout) as scope:
            async with self.runner.stream(args) as stream:
                frames = 0
                async for raw in stream.lines():
                    if starts_frame(raw):
                        frames += 1
                        if frames > 1:
                            break
                    if not strip_escape_codes(raw).strip():
                        continue
                    stats = parse_stats_line(raw)
                    key = _match_id(stats.id, wanted)
                    seen[key] = stats
                    if len(seen) == len(wanted):
                        break
                else:
                    code = await stream.wait()
                    if code != 0 and not seen:
                        _raise_for_failed_stream(list(stream.argv), code, stream.stderr)
        if scope.cancelled_caught:
            raise DockerTimeoutError(self.runner.argv(args), timeout, 1)
        order = {container_id: index for index, container_id in enumerate(container_ids)}
        return [seen[key] for key in sorted(seen, key=lambda key: order.get(key, len(order)))]

    async def compose_config(
        self, files: Sequence[Path], project: str | None = None, profiles: Sequence[str] = ()
    ) -> ComposeProjectConfig:
        """What compose makes of the given files (its interpolation, overrides and extends)."""
        result = await self.runner.run(
            [*compose_args(files, project, profiles), "config", "--format", "json"], check=False
        )
        if result.returncode != 0:
            raise ComposeFileError(_compose_message(result.stderr, result.returncode))
        return parse_compose_config(result.stdout)

    async def compose_ps(self, files: Sequence[Path], project: str | None = None) -> list[ComposeContainer]:
        """The containers of a compose project, stopped ones included."""
        result = await self.runner.run([*compose_args(files, project), "ps", "--all", "--format", "json"])
        return parse_compose_ps(result.stdout)


def compose_args(files: Sequence[Path], project: str | None, profiles: Sequence[str] = ()) -> list[str]:
    """`docker compose` with its file, project and profile options."""
    args = ["compose"]
    for file in files:
        args += ["--file", str(file)]
    if project is not None:
        args += ["--project-name", project]
    for profile in profiles:
        args += ["--profile", profile]
    return args


def _compose_message(stderr: str, returncode: int) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return "compose rejected the file: " + ("; ".join(lines) if lines else f"exit code {returncode}")


def _match_id(stats_id: str, wanted: set[str]) -> str:
    for container_id in wanted:
        if container_id.startswith(stats_id) or stats_id.startswith(container_id):
            return container_id
    return stats_id


def _raise_for_failed_stream(argv: list[str], code: int, stderr: str) -> None:
    if DAEMON_UNREACHABLE.search(stderr):
        raise DaemonUnreachableError(argv, stderr)
    raise DockerCommandError(argv, code, "", stderr)
