"""The docker commands dockermem needs, for one engine, grouped by docker noun as the docker CLI
groups them: `client.container.inspect(...)`, `client.compose.up(...)`, `client.events.follow(...)`.
Each builds its argv, runs it through the one runner, and gives typed values or typed errors."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from dockermem.docker.container import ContainerCommands
from dockermem.docker.events import EventCommands
from dockermem.docker.runner import DockerRunner
from dockermem.docker.system import NetworkCommands, SystemCommands, VolumeCommands

if TYPE_CHECKING:
    from dockermem.docker.compose import ComposeCommands


class DockerClient:
    """One engine (one `--context`, or the user's current one), noun by noun."""

    def __init__(self, runner: DockerRunner) -> None:
        self.runner = runner
        self.system = SystemCommands(runner)
        self.container = ContainerCommands(runner)
        self.events = EventCommands(runner)
        self.network = NetworkCommands(runner)
        self.volume = VolumeCommands(runner)

    @cached_property
    def compose(self) -> ComposeCommands:
        """`docker compose ...` (loaded on first use: a snapshot never needs it)."""
        from dockermem.docker.compose import ComposeCommands

        return ComposeCommands(self.runner)

    @property
    def context(self) -> str | None:
        """The docker context every call names (None: the user's current one)."""
        return self.runner.context
