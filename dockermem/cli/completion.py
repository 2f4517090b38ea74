"""Shell completion of option values (typer's `autocompletion` callbacks): project names from
the engine, service names from the compose file. A callback prints nothing and never fails:
what it cannot read, it does not offer."""

from __future__ import annotations

from pathlib import Path

import typer

# Completion runs while the user waits at the prompt: one try, and not for long.
ENGINE_SECONDS = 2.0


def complete_project(incomplete: str) -> list[str]:
    """The compose projects running on the engine (label com.docker.compose.project)."""
    import anyio

    from dockermem.config import load_settings
    from dockermem.core.client import client_for
    from dockermem.core.completion import running_project_names
    from dockermem.errors import DockermemError

    try:
        settings = load_settings({"docker_timeout_seconds": ENGINE_SECONDS, "docker_retries": 0})
        names = anyio.run(running_project_names, client_for(settings))
    except DockermemError:
        return []
    return [name for name in names if name.startswith(incomplete)]


def complete_service(ctx: typer.Context, incomplete: str) -> list[str]:
    """The services of the compose files given with -f (or compose's default file here), less
    those already named."""
    named = set(ctx.params.get("services") or [])
    return [name for name in _services(ctx) if name.startswith(incomplete) and name not in named]


def complete_scale(ctx: typer.Context, incomplete: str) -> list[str]:
    """`SERVICE=` for each service of the compose file, for `--scale SERVICE=MIN..MAX`."""
    return [f"{name}=" for name in _services(ctx) if name.startswith(incomplete)]


def _services(ctx: typer.Context) -> list[str]:
    from dockermem.core.completion import compose_files_to_read, compose_service_names

    return compose_service_names(compose_files_to_read(ctx.params.get("file") or [], Path.cwd()))
