"""A short-lived cache of what `docker info` says of an engine.

`docker info` is the slowest call of a snapshot or a preflight, and what dockermem keeps of it
(`EngineInfo`: memory, CPUs, version, OS and cgroup setup) holds for as long as the daemon runs.
It is kept in `<state_dir>/engine-info.json` with the engine's kind (Docker or Podman, from
`docker version`) whose differences change what dockermem can see, one entry per engine: the
docker context the client uses and that context's endpoint, and for a local socket the socket
file's inode and mtime, which a restarted daemon changes. An entry with a socket's identity
lasts an hour (LOCAL_ENGINE_TTL_SECONDS, or `engine_info_ttl_seconds` when that is longer): its
key already changes when the daemon restarts, and a user's commands are often minutes apart.
One for a remote engine, whose restart dockermem cannot see, lasts `engine_info_ttl_seconds`
(60). 0 turns the cache off.

The cache must never fail a command: an entry that cannot be read, has the wrong shape or
cannot be written is ignored, and `docker info` is asked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TypeGuard

from dockermem.clock import current_clock
from dockermem.config import Settings
from dockermem.docker.cgroup import CgroupLayout
from dockermem.docker.cli_plugin import docker_config_dir
from dockermem.docker.client import DockerClient
from dockermem.docker.models import DOCKER, PODMAN, EngineInfo

ENGINE_CACHE_FILE = "engine-info.json"
CACHE_FORMAT = 1
DEFAULT_CONTEXT = "default"
DEFAULT_HOST = "unix:///var/run/docker.sock"
UNIX_SCHEME = "unix://"
LOCAL_ENGINE_TTL_SECONDS = 3600.0


@dataclass(frozen=True)
class EngineKey:
    """Which engine an entry is for: the context, its endpoint and, for a local socket, the
    socket file's identity (a restarted daemon makes a new socket)."""

    context: str
    host: str
    socket_identity: tuple[int, int] | None  # (st_ino, st_mtime_ns) of a unix socket

    @property
    def entry_name(self) -> str:
        return f"{self.context} {self.host}"


def engine_key(context: str | None, environ: Mapping[str, str]) -> EngineKey | None:
    """The key of the engine that `docker [--context CONTEXT]` talks to; None when it cannot be
    told (a context whose endpoint cannot be read, a local socket that is not there): then
    nothing is cached.

    The context is chosen as the docker CLI chooses it: `--context`, else the default context
    when DOCKER_HOST is set, else DOCKER_CONTEXT, else the config file's currentContext.
    """
    config_dir = docker_config_dir(environ)
    if context:
        name = context
    elif environ.get("DOCKER_HOST"):
        name = DEFAULT_CONTEXT
    else:
        name = environ.get("DOCKER_CONTEXT") or _current_context(config_dir) or DEFAULT_CONTEXT
    if name == DEFAULT_CONTEXT:
        host: str | None = environ.get("DOCKER_HOST") or DEFAULT_HOST
    else:
        host = _context_host(config_dir, name)
    if host is None:
        return None
    identity: tuple[int, int] | None = None
    if host.startswith(UNIX_SCHEME):
        try:
            status = os.stat(host.removeprefix(UNIX_SCHEME))
        except OSError:
            return None
        identity = (status.st_ino, status.st_mtime_ns)
    return EngineKey(name, host, identity)


def is_local_engine(client: DockerClient) -> bool:
    """Whether the client's engine runs on this machine (a unix socket): its containers'
    cgroups and kernel log are this machine's."""
    key = engine_key(client.runner.context, os.environ)
    return key is not None and key.host.startswith(UNIX_SCHEME)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        return None


def _current_context(config_dir: Path) -> str | None:
    document = _read_json(config_dir / "config.json")
    current = document.get("currentContext") if isinstance(document, dict) else None
    return current if isinstance(current, str) and current else None


def _context_host(config_dir: Path, name: str) -> str | None:
    # The docker CLI keeps a context's endpoints under the SHA-256 of its name.
    import hashlib  # here, not at the top: only a named context needs it (start-up time)

    digest = hashlib.sha256(name.encode()).hexdigest()
    document = _read_json(config_dir / "contexts" / "meta" / digest / "meta.json")
    if not isinstance(document, dict):
        return None
    endpoints = document.get("Endpoints")
    docker = endpoints.get("docker") if isinstance(endpoints, dict) else None
    host = docker.get("Host") if isinstance(docker, dict) else None
    return host if isinstance(host, str) and host else None


def read_cached_engine_info(
    state_dir: Path, key: EngineKey, ttl_seconds: float, now: float
) -> EngineInfo | None:
    """The cached engine info, when an entry for exactly this key is younger than its lifetime."""
    document = _read_json(state_dir / ENGINE_CACHE_FILE)
    entries = document.get("entries") if isinstance(document, dict) else None
    entry = entries.get(key.entry_name) if isinstance(entries, dict) else None
    if not isinstance(entry, dict) or document.get("format") != CACHE_FORMAT:
        return None
    if not _is_fresh(entry, now, ttl_seconds):
        return None
    stored = entry.get("socket_identity")
    identity: tuple[int, int] | None = None
    if isinstance(stored, list) and len(stored) == 2 and all(_is_count(part) for part in stored):
        identity = (stored[0], stored[1])
    elif stored is not None:
        return None
    if identity != key.socket_identity:
        return None
    return _engine_info_from(entry.get("engine"))


def _is_fresh(entry: Mapping[str, object], now: float, ttl_seconds: float) -> bool:
    # An entry from the future (the clock was set back) is not trusted either.
    stored_at = entry.get("stored_at")
    return _is_number(stored_at) and 0 <= now - stored_at < entry_lifetime(entry, ttl_seconds)


def entry_lifetime(entry: Mapping[str, object], ttl_seconds: float) -> float:
    """How long an entry lasts: an hour at least for a local socket's (a restarted daemon
    changes its key), `ttl_seconds` for a remote engine's; never with a TTL of 0."""
    if ttl_seconds <= 0:
        return 0.0
    if entry.get("socket_identity") is not None:
        return max(ttl_seconds, LOCAL_ENGINE_TTL_SECONDS)
    return ttl_seconds


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _engine_info_from(document: object) -> EngineInfo | None:
    # Exactly EngineInfo's fields: an entry of another shape (another version's) is a miss.
    if not isinstance(document, dict) or set(document) != {f.name for f in fields(EngineInfo)}:
        return None
    texts = ("name", "server_version", "operating_system", "kind", "api_version")
    optional_texts = ("cgroup_version", "cgroup_driver")
    if not all(isinstance(document[name], str) for name in texts):
        return None
    if not all(document[name] is None or isinstance(document[name], str) for name in optional_texts):
        return None
    if not (_is_count(document["memory_total_bytes"]) and document["memory_total_bytes"] > 0):
        return None
    if not _is_count(document["cpus"]) or document["kind"] not in (DOCKER, PODMAN):
        return None
    return EngineInfo(**document)


def write_cached_engine_info(
    state_dir: Path, key: EngineKey, engine: EngineInfo, now: float, ttl_seconds: float
) -> None:
    """Keep the engine info for this engine (written atomically; entries past their lifetime are dropped;
    the cgroup layouts learnt of the same engine are kept). A state directory that cannot be
    written is not an error: the next run asks docker again."""
    entries = _fresh_entries(state_dir, now, ttl_seconds)
    previous = entries.get(key.entry_name)
    layouts = previous.get("cgroup_layouts") if isinstance(previous, dict) else None
    entries[key.entry_name] = {
        "stored_at": now,
        "socket_identity": None if key.socket_identity is None else list(key.socket_identity),
        "engine": asdict(engine),
        **({"cgroup_layouts": layouts} if isinstance(layouts, list) else {}),
    }
    _write_entries(state_dir, entries)


def read_cached_layouts(
    state_dir: Path, key: EngineKey, ttl_seconds: float, now: float
) -> list[CgroupLayout]:
    """The cgroup layouts learnt of this engine (a daemon's own `--cgroup-parent`), kept with
    its fresh entry: a snapshot then finds its containers without one `docker inspect`."""
    if read_cached_engine_info(state_dir, key, ttl_seconds, now) is None:
        return []
    entries = _fresh_entries(state_dir, now, ttl_seconds)
    stored = entries.get(key.entry_name, {}).get("cgroup_layouts")
    return [
        CgroupLayout(item[0], item[1], item[2])
        for item in (stored if isinstance(stored, list) else ())
        if isinstance(item, list) and len(item) == 3 and item[0] in (1, 2)
        and all(isinstance(part, str) and "{id}" in part for part in item[1:])
    ]  # fmt: skip


def write_cached_layouts(
    state_dir: Path, key: EngineKey, layouts: Sequence[CgroupLayout], ttl_seconds: float, now: float
) -> None:
    """Keep the layouts learnt of this engine with its entry (when it has a fresh one)."""
    entries = _fresh_entries(state_dir, now, ttl_seconds)
    entry = entries.get(key.entry_name)
    if not isinstance(entry, dict):
        return
    entry["cgroup_layouts"] = [[layout.version, layout.memory, layout.cpu] for layout in layouts]
    _write_entries(state_dir, entries)


def _fresh_entries(state_dir: Path, now: float, ttl_seconds: float) -> dict[str, Any]:
    document = _read_json(state_dir / ENGINE_CACHE_FILE)
    entries = document.get("entries") if isinstance(document, dict) else None
    return {
        name: entry
        for name, entry in (entries.items() if isinstance(entries, dict) else ())
        if isinstance(entry, dict) and _is_fresh(entry, now, ttl_seconds)
    }


def _write_entries(state_dir: Path, entries: Mapping[str, Any]) -> None:
    """The cache file, written atomically; a state directory that cannot be written is let be."""
    import tempfile  # here, not at the top: only a run that asked docker writes (start-up time)

    text = json.dumps({"format": CACHE_FORMAT, "entries": entries}, indent=2) + "\n"
    temporary: str | None = None
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=ENGINE_CACHE_FILE + ".", suffix=".tmp", dir=state_dir)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, state_dir / ENGINE_CACHE_FILE)
        temporary = None
    except OSError:
        pass
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _cache_key(client: DockerClient, settings: Settings) -> EngineKey | None:
    """The client's engine's key in the cache; None when the cache is off or the engine cannot
    be told. The runner's docker inherits this environment: DOCKER_HOST/DOCKER_CONTEXT agree."""
    if settings.engine_info_ttl_seconds <= 0:
        return None
    return engine_key(client.runner.context, os.environ)


def fresh_engine_info(client: DockerClient, settings: Settings) -> EngineInfo | None:
    """The client's engine info when the cache has a fresh entry of it (None: `cached_engine_info`
    will ask docker)."""
    return _fresh_entry(_cache_key(client, settings), settings)


def _fresh_entry(key: EngineKey | None, settings: Settings) -> EngineInfo | None:
    if key is None:
        return None
    now = current_clock().now().timestamp()
    return read_cached_engine_info(settings.state_path, key, settings.engine_info_ttl_seconds, now)


async def cached_engine_info(client: DockerClient, settings: Settings) -> EngineInfo:
    """The engine info: from the cache when this engine has a fresh entry there, else from
    `docker info` (and then cached). It does not tell that the engine still answers: a caller
    that must know (`watch`'s health check) asks `docker info` itself."""
    key = _cache_key(client, settings)
    cached = _fresh_entry(key, settings)
    if cached is not None:
        return cached
    now = current_clock().now().timestamp()
    engine = await client.system.info()
    # An info without its version (`docker version` failed) is used, not kept: the engine's
    # kind would otherwise stay a guess for as long as the entry lives.
    if key is not None and engine.api_version:
        write_cached_engine_info(settings.state_path, key, engine, now, settings.engine_info_ttl_seconds)
    return engine


def cached_cgroup_layouts(client: DockerClient, settings: Settings) -> list[CgroupLayout]:
    """The cgroup layouts learnt of the client's engine, from the cache (none when it is off)."""
    key = _cache_key(client, settings)
    if key is None:
        return []
    now = current_clock().now().timestamp()
    return read_cached_layouts(settings.state_path, key, settings.engine_info_ttl_seconds, now)


def keep_cgroup_layouts(client: DockerClient, settings: Settings, layouts: Sequence[CgroupLayout]) -> None:
    """Keep the layouts a reader learnt of the client's engine, for the next command."""
    key = _cache_key(client, settings)
    if key is not None and layouts:
        now = current_clock().now().timestamp()
        write_cached_layouts(settings.state_path, key, layouts, settings.engine_info_ttl_seconds, now)
