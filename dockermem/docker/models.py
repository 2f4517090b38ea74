"""Typed values parsed from docker's output. Nothing above the docker layer sees raw strings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True)
class ContainerStats:
    """One container's line of `docker stats`."""

    id: str
    name: str
    memory_usage_bytes: int
    memory_limit_bytes: int | None
    memory_percent: float | None
    cpu_percent: float | None
    pids: int | None
    measured: bool = True  # False for docker's `-- / --`: no reading yet (or the container stopped)


@dataclass(frozen=True)
class ContainerSummary:
    """One container of `docker ps -a`, with the compose labels that scope it."""

    id: str
    name: str
    image: str
    state: str
    status: str
    created_at: datetime | None
    project: str | None
    service: str | None
    working_dir: str | None
    config_files: str | None

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")

    @property
    def stopped(self) -> bool:
        """Stopped for good until started again: what cleanup may remove (not one being removed)."""
        return self.state in ("exited", "created", "dead")

    @property
    def is_compose_managed(self) -> bool:
        """Compose sets the project label together with its working_dir/config_files labels."""
        return self.project is not None and bool(self.working_dir or self.config_files)


@dataclass(frozen=True)
class ComposeContainer:
    """One container of `docker compose ps`."""

    id: str
    name: str
    project: str
    service: str
    state: str
    health: str
    exit_code: int | None


@dataclass(frozen=True)
class ServiceDependency:
    """One entry of a service's `depends_on`: the service it waits for, and for what."""

    service: str
    condition: str  # service_started, service_healthy or service_completed_successfully


@dataclass(frozen=True)
class ComposeService:
    """One compose service as `docker compose config` resolves it: the memory it declares
    (bytes; None when it declares none), its replicas, and what its start waits for."""

    name: str
    limit_bytes: int | None
    reservation_bytes: int | None
    network_mode: str | None = None
    replicas: int = 1  # `deploy.replicas` or `scale`
    depends_on: tuple[ServiceDependency, ...] = ()
    post_start: bool = False  # has `post_start` hooks: commands compose runs after the start
    profiles: tuple[str, ...] = ()  # the compose profiles that enable it (none: always enabled)


@dataclass(frozen=True)
class ComposeProjectConfig:
    """What `docker compose config` says a project is made of."""

    name: str
    services: tuple[ComposeService, ...]
    networks: tuple[str, ...]  # those compose creates (external ones left out), as volumes
    volumes: tuple[str, ...]


DOCKER = "docker"
PODMAN = "podman"


@dataclass(frozen=True)
class EngineVersion:
    """What `docker version` says of the server: which engine it is (Podman names itself among
    its components), its version and the Docker API version it serves."""

    kind: str  # DOCKER or PODMAN
    version: str
    api_version: str


@dataclass(frozen=True)
class EngineInfo:
    """What `docker info` and `docker version` say of the engine that holds for as long as its
    daemon runs (its moment-to-moment container counts are left out: a command counts from its
    own `docker ps`), and the ways the engine differs from Docker's that change what dockermem
    can see."""

    name: str
    server_version: str
    operating_system: str
    memory_total_bytes: int
    cpus: int
    cgroup_version: str | None
    cgroup_driver: str | None
    kind: str = DOCKER
    api_version: str = ""

    def with_version(self, version: EngineVersion) -> EngineInfo:
        """This info with what `docker version` adds: the engine's kind and API version."""
        return replace(self, kind=version.kind, api_version=version.api_version)

    @property
    def sends_oom_events(self) -> bool:
        """Docker sends an `oom` event for each kill; Podman 4 sends none (and leaves
        `State.OOMKilled` false)."""
        return self.kind != PODMAN

    @property
    def stats_include_cache(self) -> bool:
        """Podman's `docker stats` counts the page cache (its stats carry no `stats` map for
        the CLI to take the inactive file pages from)."""
        return self.kind == PODMAN

    @property
    def health_checks_need_systemd(self) -> bool:
        """Podman runs health checks with systemd timers: without systemd they never run."""
        return self.kind == PODMAN

    @property
    def description(self) -> str:
        """`Podman 4.3.1 (API 1.41)`, `Docker 26.1.5+dfsg1 (API 1.45)`"""
        api = f" (API {self.api_version})" if self.api_version else ""
        return f"{self.kind.capitalize()} {self.server_version}{api}"


@dataclass(frozen=True)
class NamedResource:
    """A network or volume, with the compose labels it carries (if any)."""

    name: str
    driver: str
    project: str | None
    compose_name: str | None = None  # com.docker.compose.network / .volume: compose made it
    created_at: datetime | None = None

    @property
    def is_compose_managed(self) -> bool:
        return self.project is not None and self.compose_name is not None


@dataclass(frozen=True)
class ContainerState:
    """What `docker inspect` says of one container's state."""

    id: str
    name: str
    status: str
    oom_killed: bool
    exit_code: int
    pid: int
    restart_count: int
    health_status: str | None
    last_health_output: str | None
    memory_limit_bytes: int | None
    project: str | None
    service: str | None
    one_off: bool = False  # made by `docker compose run`, not by `up`
    health_checks_run: int = 0  # the entries of its health log (none: its check never ran)
    started_at: datetime | None = None
    finished_at: datetime | None = None  # its last exit (None: never exited)

    @property
    def running(self) -> bool:
        return self.status == "running"

    def oom_flag_older_than(self, moment: datetime) -> bool:
        """Whether its `OOMKilled` was set before `moment`: it died before then, or (running)
        it started before then, and the flag (Docker 25+ sets it for any process's kill, until
        the container starts again) may tell of a kill from any time since."""
        at = self.started_at if self.running else self.finished_at
        return at is not None and at < moment


@dataclass(frozen=True)
class ContainerEvent:
    """One `docker events` line about a container (oom, die, start, ...)."""

    time: datetime
    action: str
    container_id: str
    name: str
    project: str | None
    service: str | None
    exit_code: int | None


@dataclass(frozen=True)
class ReplicaContainer:
    """One replica of a compose service: compose's number for it, and when it was made."""

    id: str
    name: str
    number: int | None
    created: str  # RFC 3339, UTC, the fraction padded to nine digits: sorts as it reads
    status: str


@dataclass(frozen=True)
class ComposeRun:
    """How a compose command that changes the stack (`up`, `down`) ended: its exit code, and
    what compose said went wrong in one line (empty when nothing did)."""

    returncode: int
    message: str
    output: str = ""  # compose's whole stderr, for a verbose report

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True)
class Removal:
    """What a `docker rm` (network rm, volume rm) removed, and docker's word on what it refused."""

    removed: tuple[str, ...]
    refused: tuple[str, ...]
