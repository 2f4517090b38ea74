"""`docker container ...`: list, inspect, stats (one reading, or the stream), stop and remove."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio

from dockermem.docker.models import (
    ContainerState,
    ContainerStats,
    ContainerSummary,
    Removal,
    ReplicaContainer,
)
from dockermem.docker.parse import (
    CONFIG_FILES_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    WORKING_DIR_LABEL,
    parse_container_pids,
    parse_container_sizes,
    parse_container_states,
    parse_container_summaries,
    parse_replicas,
    parse_stats_line,
    removed_names,
    starts_frame,
    stats_line_id,
    strip_escape_codes,
)
from dockermem.docker.runner import DockerRunner, failure_error
from dockermem.errors import DockerCommandError, DockermemError, DockerTimeoutError

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
# docker stats writes each frame twice per 500 ms tick: six frame marks are about 1.5 s.
MAX_FRAMES_PER_SNAPSHOT = 6
# What the docker CLI says when a container named to `docker stats` gave no first reading in
# time; the snapshot then reads the unnamed stream, for up to this many frames (about 6 s).
SLOW_FIRST_READING = "timeout waiting for stats"
SLOW_ENGINE_FRAMES = 4 * MAX_FRAMES_PER_SNAPSHOT


class ContainerCommands:
    """`docker container ...` for one engine."""

    def __init__(self, runner: DockerRunner) -> None:
        self.runner = runner

    @staticmethod
    def ls_args(project: str | None = None) -> list[str]:
        args = ["ps", "--all", "--no-trunc", "--format", CONTAINER_FORMAT]
        if project is not None:
            args += ["--filter", f"label={PROJECT_LABEL}={project}"]
        return args

    async def ls(self, *, project: str | None = None) -> list[ContainerSummary]:
        """Every container, running or not (one compose project's when `project` is given)."""
        result = await self.runner.run(self.ls_args(project))
        return parse_container_summaries(result.stdout)

    async def inspect(self, container_ids: Sequence[str]) -> list[ContainerState]:
        """State, OOM flag, exit code, health log and limit of each container (gone ones left out)."""
        if not container_ids:
            return []
        result = await self.runner.run(["container", "inspect", *container_ids], check=False)
        if result.returncode != 0 and not result.stdout.strip().startswith("["):
            raise failure_error(result.argv, result.returncode, result.stderr)
        return parse_container_states(result.stdout or "[]")

    async def pids(self, container_ids: Sequence[str]) -> dict[str, int]:
        """The host PID of each container's init process (0 when it is not running)."""
        if not container_ids:
            return {}
        result = await self.runner.run(
            ["container", "inspect", "--format", "{{.Id}} {{.State.Pid}}", *container_ids], check=False
        )
        return parse_container_pids(result.stdout)

    async def writable_sizes(self, container_ids: Sequence[str]) -> dict[str, int]:
        """The size of each container's writable layer: the disk its removal frees (a container
        whose size the engine does not give, or that is gone, is left out)."""
        if not container_ids:
            return {}
        result = await self.runner.run(
            ["container", "inspect", "--size", "--format", "{{.Id}} {{.SizeRw}}", *container_ids], check=False
        )
        return parse_container_sizes(result.stdout)

    async def replicas(self, project: str, service: str) -> list[ReplicaContainer]:
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
        return parse_replicas(result.stdout)

    async def stats(self, container_ids: Sequence[str]) -> list[ContainerStats]:
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
            if isinstance(failure, DockerCommandError) and SLOW_FIRST_READING in failure.stderr:
                # The CLI fails a named container whose first reading takes over 2 s (a busy
                # engine with hundreds of containers); the unnamed stream shows it as `--` until
                # a reading comes, so it is read instead, for the wanted containers' lines.
                args = ["stats", "--format", STATS_FORMAT]
                failure = await self._read_stats_stream(args, wanted, seen, SLOW_ENGINE_FRAMES)
            if failure is not None:
                raise failure
        if scope.cancelled_caught:
            raise DockerTimeoutError(self.runner.argv(args), timeout, 1)
        order = {container_id: index for index, container_id in enumerate(container_ids)}
        return [seen[key] for key in sorted(seen, key=lambda key: order.get(key, len(order)))]

    async def _read_stats_stream(
        self, args: list[str], wanted: set[str], seen: dict[str, ContainerStats], max_frames: int
    ) -> DockermemError | None:
        """Read one `docker stats` stream into `seen` until every wanted container has a
        measured line (other containers' lines are passed over), or `max_frames` frames have
        gone by; the stream's error when it failed with none."""
        async with self.runner.stream(args) as stream:
            frames = 0
            async for raw in stream.lines():
                if starts_frame(raw):
                    frames += 1
                    if frames > max_frames:
                        return None  # the rest stopped meanwhile, or docker has no reading for them
                line = strip_escape_codes(raw).strip()
                # A line without an ID (`"ID":""`, `-- / --`): the unnamed stream's placeholder
                # for a container docker has nothing on yet (one starting or going away).
                if not line or stats_line_id(line) is None:
                    continue
                stats = parse_stats_line(line)
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
                return failure_error(stream.argv, code, stream.stderr)
        return None

    @asynccontextmanager
    async def stats_stream(self) -> AsyncIterator[AsyncIterator[ContainerStats]]:
        """Follow the streaming `docker stats` of every running container: each measured line
        as it comes. The stream ends when the command does (it exits 0 when the daemon restarts)."""
        async with self.runner.stream(["stats", "--format", STATS_FORMAT]) as stream:

            async def readings() -> AsyncIterator[ContainerStats]:
                # docker stats writes every frame twice per tick, and most lines do not change
                # between ticks: a line seen last time for the same container is not parsed again.
                last_line: dict[str, str] = {}
                async for raw in stream.lines():
                    line = strip_escape_codes(raw).strip()
                    short_id = stats_line_id(line)
                    if short_id is None or last_line.get(short_id) == line:
                        continue
                    last_line[short_id] = line
                    try:
                        stats = parse_stats_line(line)
                    except DockermemError:
                        continue
                    if stats.measured:
                        yield stats
                code = await stream.wait()
                if code != 0:
                    raise failure_error(stream.argv, code, stream.stderr)

            yield readings()

    async def stop(self, container_ids: Sequence[str], timeout_seconds: int) -> None:
        """`docker stop --time T`: SIGTERM, then SIGKILL after T seconds."""
        args = ["stop", "--time", str(timeout_seconds), "--", *container_ids]
        result = await self.runner.run(args, time_limit=timeout_seconds + 60, retries=0, check=False)
        if result.returncode != 0:
            raise failure_error(result.argv, result.returncode, result.stderr)

    async def remove(self, container_ids: Sequence[str]) -> Removal:
        """`docker rm --volumes`: stopped containers and their anonymous volumes. Never forced:
        docker itself refuses a container that is running (that is in `refused`)."""
        if not container_ids:
            return Removal((), ())
        result = await self.runner.run(["rm", "--volumes", "--", *container_ids], retries=0, check=False)
        return removed_names(container_ids, result.stdout, result.stderr)


def _match_id(stats_id: str, wanted: set[str]) -> str:
    for container_id in wanted:
        if container_id.startswith(stats_id) or stats_id.startswith(container_id):
            return container_id
    return stats_id
