"""What shell completion offers: the compose projects running on the engine, and the services
of a compose file. Both must answer while the user waits at the prompt: one `docker ps`, and
the compose file read as YAML in place (no `docker compose config`, which resolves the whole
stack and takes a second or more)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from dockermem.docker.client import DockerClient

# Compose's own search order for the file it reads when no -f is given, and the override file
# it reads beside it (compose-spec: "Compose file" and "Merge").
DEFAULT_COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
DEFAULT_OVERRIDE_FILES = {
    "compose.yaml": "compose.override.yaml",
    "compose.yml": "compose.override.yml",
    "docker-compose.yaml": "docker-compose.override.yaml",
    "docker-compose.yml": "docker-compose.override.yml",
}


async def running_project_names(client: DockerClient) -> list[str]:
    """The compose projects with a running container on the client's engine, sorted."""
    containers = await client.container.ls()
    return sorted({c.project for c in containers if c.project and c.running})


def compose_files_to_read(
    files: Sequence[Path], cwd: Path, environ: Mapping[str, str] = os.environ
) -> list[Path]:
    """The compose files compose itself would read: those given with -f, else `COMPOSE_FILE`,
    else the first default file in `cwd` with its override beside it."""
    if files:
        return [cwd / file for file in files]
    if environ.get("COMPOSE_FILE"):
        separator = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return [cwd / name for name in environ["COMPOSE_FILE"].split(separator) if name]
    for name in DEFAULT_COMPOSE_FILES:
        if (cwd / name).is_file():
            override = cwd / DEFAULT_OVERRIDE_FILES[name]
            return [cwd / name, *([override] if override.is_file() else [])]
    return []


def compose_service_names(files: Sequence[Path]) -> list[str]:
    """The services the compose files declare, in their order, each once. A file that is
    missing or is not a compose mapping adds none: completion offers what it can read."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    names: dict[str, None] = {}
    for file in files:
        try:
            document = yaml.load(file.read_text(encoding="utf-8"), Loader=loader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        services = document.get("services") if isinstance(document, dict) else None
        if isinstance(services, dict):
            names.update((str(name), None) for name in services)
    return list(names)
