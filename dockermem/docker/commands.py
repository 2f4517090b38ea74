"""Typed docker calls: each builds its argv, runs it through the runner and parses the output."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import anyio

from dockermem.docker.models import (
    ComposeContainer,
    ComposeProjectConfig,
    ContainerEvent,
    ContainerState,
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
    parse_container_pids,
    parse_container_states,
    parse_container_summaries,
    parse_engine_info,
    parse_event,
    parse_named_resources,
    parse_stats_line,
    parse_volume_times,
    starts_frame,
    strip_escape_codes,
)
from dockermem.docker.runner import DAEMON_UNREACHABLE, CommandResult, DockerRunner
from dockermem.errors import ComposeFileError, DaemonUnreachableError, DockerCommandError, DockerTimeoutError

JSON_FORMAT = "{{json .}}"
# Only the fields read from `docker stats` (not the network and block I/O figures): a third
# less text per line for docker to write and for a watch to parse, 100 lines a second.
STATS_FORMAT = (
    '{"ID":{{json .ID}},"Name":{{json .Name}},"MemUsage":{{json .MemUsage}},'
    '"MemPerc":{{json .MemPerc}},"CPUPerc":{{json .CPUPerc}},"PIDs":{{json .PIDs}}}'
)
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
CONTAINER_NUMBER_LABEL = "com.docker.compose.container-number"
REPLICA_FORMAT = (
    "{{json .Id}} {{json .Name}} {{json .Created}} {{json .State.Status}} "
    f'{{{{json (index .Config.Labels "{CONTAINER_NUMBER_LABEL}")}}}}'
)
PREDEFINED_NETWORKS = frozenset({"bridge", "host", "none"})
# docker stats writes each frame twice per 500 ms tick: six frame marks are about 1.5 s.
MAX_FRAMES_PER_SNAPSHOT = 6
# What the docker CLI says when a container named to `docker stats` gave no first reading in
# time; the snapshot then reads the unnamed stream, for up to this many frames (about 6 s).
SLOW_FIRST_READING = "timeout waiting for stats"
SLOW_ENGINE_FRAMES = 4 * MAX_FRAMES_PER_SNAPSHOT


@dataclass(frozen=True)
class ReplicaContainer:
    """One replica of a compose service: compose's number for it, and when it was made."""

    id: str
    name: str
    number: int | None
    created: str  # RFC 3339, UTC, the fraction padded to nine digits: sorts as it reads
    status: str


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

        Reads the streaming form until each container has a measured line: `--no-stream`
        makes the daemon sample twice (about 2 s), while the stream's first frame comes sooner.
        A container that stops meanwhile ends its part of the stream; what was read is kept.
        """
        if not container_ids:
            return []
        wanted = set(container_ids)
        seen: dict[str, ContainerStats] = {}
        timeout = self.runner.limits.timeout_seconds
        args = ["stats", "--format", STATS_FORMAT, *container_ids]
        with anyio.move_on_after(timeout) as scope:
            failure = await self._read_stats_stream(args, wanted, seen, MAX_FRAMES_PER_SNAPSHOT)
            if failure is not None and SLOW_FIRST_READING in failure[2]:
                # The CLI fails a named container whose first reading takes over 2 s (a busy
                # engine with hundreds of containers); the unnamed stream shows it as `--` until
                # a reading comes, so it is read instead, for the wanted containers' lines.
                args = ["stats", "--format", STATS_FORMAT]
                failure = await self._read_stats_stream(args, wanted, seen, SLOW_ENGINE_FRAMES)
            if failure is not None:
                _raise_for_failed_stream(*failure)
        if scope.cancelled_caught:
            raise DockerTimeoutError(self.runner.argv(args), timeout, 1)
        order = {container_id: index for index, container_id in enumerate(container_ids)}
        return [seen[key] for key in sorted(seen, key=lambda key: order.get(key, len(order)))]

    async def _read_stats_stream(
        self, args: list[str], wanted: set[str], seen: dict[str, ContainerStats], max_frames: int
    ) -> tuple[list[str], int, str] | None:
        """Read one `docker stats` stream into `seen` until every wanted container has a
        measured line (other containers' lines are passed over), or `max_frames` frames have
        gone by; the stream's argv, exit code and stderr when it failed with none."""
        async with self.runner.stream(args) as stream:
            frames = 0
            async for raw in stream.lines():
                if starts_frame(raw):
                    frames += 1
                    if frames > max_frames:
                        return None  # the rest stopped meanwhile, or docker has no reading for them
                if not strip_escape_codes(raw).strip():
                    continue
                stats = parse_stats_line(raw)
                if not stats.measured:
                    continue  # `-- / --`: no reading yet; a later frame brings one
                key = _match_id(stats.id, wanted)
                if key not in wanted:
                    continue
                seen[key] = stats
                if len(seen) == len(wanted):
                    return None
            code = await stream.wait()
            # A container removed since it was listed is gone, not an error.
            if code != 0 and not seen and "No such container" not in stream.stderr:
                return list(stream.argv), code, stream.stderr
        return None

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

    async def inspect_containers(self, container_ids: Sequence[str]) -> list[ContainerState]:
        """State, OOM flag, exit code, health log and limit of each container (gone ones left out)."""
        if not container_ids:
            return []
        result = await self.runner.run(["container", "inspect", *container_ids], check=False)
        if result.returncode != 0 and not result.stdout.strip().startswith("["):
            _raise_for_failed_stream(list(result.argv), result.returncode, result.stderr)
        return parse_container_states(result.stdout or "[]")

    async def container_pids(self, container_ids: Sequence[str]) -> dict[str, int]:
        """The host PID of each container's init process (0 when it is not running)."""
        if not container_ids:
            return {}
        result = await self.runner.run(
            ["container", "inspect", "--format", "{{.Id}} {{.State.Pid}}", *container_ids], check=False
        )
        return parse_container_pids(result.stdout)

    @asynccontextmanager
    async def container_events(
        self, since: datetime, *, project: str | None = None, actions: Sequence[str] = ()
    ) -> AsyncIterator[AsyncIterator[ContainerEvent]]:
        """Follow `docker events` for containers from `since` on (one project's, some actions)."""
        args = ["events", "--format", JSON_FORMAT, "--since", f"{since.timestamp():.3f}"]
        args += ["--filter", "type=container"]
        if project is not None:
            args += ["--filter", f"label={PROJECT_LABEL}={project}"]
        for action in actions:
            args += ["--filter", f"event={action}"]
        async with self.runner.stream(args) as stream:

            async def events() -> AsyncIterator[ContainerEvent]:
                async for line in stream.lines():
                    if line.strip():
                        yield parse_event(line)
                code = await stream.wait()
                if code != 0:
                    _raise_for_failed_stream(list(stream.argv), code, stream.stderr)

            yield events()

    async def container_events_between(
        self, since: datetime, until: datetime, *, project: str | None = None
    ) -> list[ContainerEvent]:
        """The container events of a past span of time (docker keeps a recent log)."""
        args = ["events", "--format", JSON_FORMAT, "--since", f"{since.timestamp():.3f}"]
        args += ["--until", f"{until.timestamp():.3f}", "--filter", "type=container"]
        if project is not None:
            args += ["--filter", f"label={PROJECT_LABEL}={project}"]
        result = await self.runner.run(args)
        return [parse_event(line) for line in result.stdout.splitlines() if line.strip()]

    async def compose_up(
        self,
        files: Sequence[Path],
        project: str | None,
        services: Sequence[str],
        wait_timeout: float,
        extra_args: Sequence[str] = (),
    ) -> CommandResult:
        """`docker compose up -d --wait`; never retried; SIGINT first when cancelled."""
        args = [*compose_args(files, project), "up", "--detach", "--wait"]
        args += ["--wait-timeout", str(max(1, round(wait_timeout))), *extra_args, "--", *services]
        return await self.runner.run(
            args, time_limit=wait_timeout + 120, retries=0, check=False, grace_seconds=10
        )

    async def compose_scale(
        self,
        files: Sequence[Path],
        project: str | None,
        service: str,
        replicas: int,
        wait_timeout: float,
        stop_timeout: int,
    ) -> CommandResult:
        """`docker compose up --scale SERVICE=N` for one service, leaving every other container
        as it is (`--no-recreate --no-deps`). Going down, compose stops and removes the
        highest-numbered replicas (their stop grace is `stop_timeout`); going up, it adds
        replicas numbered after the highest and waits for them to be healthy."""
        args = [*compose_args(files, project), "up", "--detach", "--wait", "--no-recreate", "--no-deps"]
        args += ["--wait-timeout", str(max(1, round(wait_timeout))), "--timeout", str(stop_timeout)]
        args += ["--scale", f"{service}={replicas}", "--", service]
        return await self.runner.run(
            args, time_limit=wait_timeout + 120, retries=0, check=False, grace_seconds=10
        )

    async def service_replicas(self, project: str, service: str) -> list[ReplicaContainer]:
        """The containers of one compose service, running or not, with their replica numbers
        and creation times (to the nanosecond: `docker ps` gives only seconds)."""
        listed = await self.runner.run(
            ["ps", "--all", "--quiet", "--no-trunc", "--filter", f"label={PROJECT_LABEL}={project}",
             "--filter", f"label={SERVICE_LABEL}={service}"]
        )  # fmt: skip
        ids = listed.stdout.split()
        if not ids:
            return []
        result = await self.runner.run(
            ["container", "inspect", "--format", REPLICA_FORMAT, "--", *ids], check=False
        )
        return _parse_replicas(result.stdout)

    async def stop_containers(self, container_ids: Sequence[str], timeout_seconds: int) -> CommandResult:
        """`docker stop --time T`: SIGTERM, then SIGKILL after T seconds."""
        args = ["stop", "--time", str(timeout_seconds), "--", *container_ids]
        return await self.runner.run(args, time_limit=timeout_seconds + 60, retries=0, check=False)

    async def compose_down(self, files: Sequence[Path], project: str | None) -> CommandResult:
        """`docker compose down` (containers and networks; named volumes are kept)."""
        args = [*compose_args(files, project), "down", "--remove-orphans", "--timeout", "5"]
        return await self.runner.run(args, time_limit=180, retries=0, check=False)

    async def remove_containers(self, container_ids: Sequence[str]) -> CommandResult:
        """`docker rm --volumes`: stopped containers and their anonymous volumes. Never forced:
        docker itself refuses a container that is running."""
        return await self.runner.run(["rm", "--volumes", "--", *container_ids], retries=0, check=False)

    async def remove_networks(self, names: Sequence[str]) -> CommandResult:
        return await self.runner.run(["network", "rm", "--", *names], retries=0, check=False)

    async def remove_volumes(self, names: Sequence[str]) -> CommandResult:
        return await self.runner.run(["volume", "rm", "--", *names], retries=0, check=False)

    async def volume_created_at(self, names: Sequence[str]) -> dict[str, datetime | None]:
        """When each volume was made (`docker volume ls` does not say)."""
        if not names:
            return {}
        result = await self.runner.run(
            ["volume", "inspect", "--format", "{{json .Name}} {{json .CreatedAt}}", "--", *names], check=False
        )
        return parse_volume_times(result.stdout)


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


def _parse_replicas(stdout: str) -> list[ReplicaContainer]:
    """Lines of REPLICA_FORMAT: five JSON values each (a line that does not read is skipped:
    a container removed between the listing and the inspect prints nothing)."""
    replicas = []
    decoder = json.JSONDecoder()
    for line in stdout.splitlines():
        values: list[object] = []
        position = 0
        text = line.strip()
        try:
            while position < len(text):
                value, position = decoder.raw_decode(text, position)
                values.append(value)
                while position < len(text) and text[position] == " ":
                    position += 1
        except json.JSONDecodeError:
            continue
        if len(values) != 5 or not all(isinstance(v, str) for v in values[:4]):
            continue
        container_id, name, created, status = (str(v) for v in values[:4])
        number = values[4]
        replicas.append(
            ReplicaContainer(
                id=container_id,
                name=name.lstrip("/"),
                number=int(number) if isinstance(number, str) and number.isdigit() else None,
                created=_padded_fraction(created),
                status=status,
            )
        )
    return replicas


def _padded_fraction(created: str) -> str:
    """Go's RFC3339Nano drops trailing zeros (`.5Z` for `.500000000Z`), so two such times do
    not sort as text; padding the fraction to nine digits makes them."""
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$", created)
    if match is None:
        return created
    whole, fraction, zone = match.groups()
    return f"{whole}.{(fraction or '').ljust(9, '0')[:9]}{zone}"


def _match_id(stats_id: str, wanted: set[str]) -> str:
    for container_id in wanted:
        if container_id.startswith(stats_id) or stats_id.startswith(container_id):
            return container_id
    return stats_id


def _raise_for_failed_stream(argv: list[str], code: int, stderr: str) -> NoReturn:
    if DAEMON_UNREACHABLE.search(stderr):
        raise DaemonUnreachableError(argv, stderr)
    raise DockerCommandError(argv, code, "", stderr)
