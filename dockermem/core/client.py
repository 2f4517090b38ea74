"""The docker client for some settings (and a context): shared by the CLI and the Python API."""

from __future__ import annotations

from dockermem.config import Settings
from dockermem.docker.client import DockerClient
from dockermem.docker.runner import DockerRunner, RunnerLimits


def client_for(settings: Settings, context: str | None = None) -> DockerClient:
    """A docker client with the runner limits of the settings, for one engine."""
    limits = RunnerLimits(
        binary=settings.docker_binary,
        concurrency=settings.docker_concurrency,
        spacing_seconds=settings.docker_spacing_seconds,
        timeout_seconds=settings.docker_timeout_seconds,
        retries=settings.docker_retries,
        compose_direct=settings.compose_direct,
    )
    return DockerClient(DockerRunner(limits, context=context))
