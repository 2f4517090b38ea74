"""`docker events` about containers: followed as they come, or read for a span that has passed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from dockermem.docker.models import ContainerEvent
from dockermem.docker.parse import JSON_FORMAT, PODMAN_ACTIONS, PROJECT_LABEL, parse_event
from dockermem.docker.runner import DockerRunner, failure_error

# An action filter matches each engine's own word for it: Podman's API filters a death as
# `died` (though it shows it as `die`) and a removal as `remove`. Docker ignores words it lacks.
FILTER_WORDS = {docker: (docker, podman) for podman, docker in PODMAN_ACTIONS.items()}


def events_args(
    since: datetime, until: datetime | None, project: str | None, actions: Sequence[str]
) -> list[str]:
    """`docker events` for containers from `since` (to `until`), one project's, some actions."""
    args = ["events", "--format", JSON_FORMAT, "--since", f"{since.timestamp():.3f}"]
    if until is not None:
        args += ["--until", f"{until.timestamp():.3f}"]
    args += ["--filter", "type=container"]
    if project is not None:
        args += ["--filter", f"label={PROJECT_LABEL}={project}"]
    for action in actions:
        for word in FILTER_WORDS.get(action, (action,)):
            args += ["--filter", f"event={word}"]
    return args


class EventCommands:
    """`docker events` for one engine."""

    def __init__(self, runner: DockerRunner) -> None:
        self.runner = runner

    @asynccontextmanager
    async def follow(
        self, since: datetime, *, project: str | None = None, actions: Sequence[str] = ()
    ) -> AsyncIterator[AsyncIterator[ContainerEvent]]:
        """Follow the container events from `since` on (one project's, some actions)."""
        async with self.runner.stream(events_args(since, None, project, actions)) as stream:

            async def events() -> AsyncIterator[ContainerEvent]:
                async for line in stream.lines():
                    if line.strip():
                        yield parse_event(line)
                code = await stream.wait()
                if code != 0:
                    raise failure_error(stream.argv, code, stream.stderr)

            yield events()

    async def between(
        self, since: datetime, until: datetime, *, project: str | None = None
    ) -> list[ContainerEvent]:
        """The container events of a past span of time (docker keeps a recent log)."""
        result = await self.runner.run(events_args(since, until, project, ()))
        return [parse_event(line) for line in result.stdout.splitlines() if line.strip()]
