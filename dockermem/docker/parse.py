"""Parsers for docker's output. Each raises only `ParseError` on input it cannot read."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dockermem.docker.models import (
    DOCKER,
    PODMAN,
    ComposeContainer,
    ComposeProjectConfig,
    ComposeService,
    ContainerEvent,
    ContainerState,
    ContainerStats,
    ContainerSummary,
    EngineInfo,
    EngineVersion,
    NamedResource,
    Removal,
    ReplicaContainer,
    ServiceDependency,
)
from dockermem.errors import ParseError

# `--format` for one JSON object per line.
JSON_FORMAT = "{{json .}}"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"
CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"
NETWORK_LABEL = "com.docker.compose.network"
VOLUME_LABEL = "com.docker.compose.volume"
ONE_OFF_LABEL = "com.docker.compose.oneoff"
# `docker ps` and `network ls` print "2026-11-26 23:46:23 +0000 UTC" (fractions on networks).
DOCKER_TIME = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? ([+-])(\d\d)(\d\d)", re.ASCII
)

# Units docker and compose print. Docker's stats use binary units (KiB, MiB); its human sizes
# use decimal ones (kB, MB). A bare letter (512m) is compose's RAMInBytes form: binary.
SIZE_UNITS: dict[str, int] = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4, "pb": 1000**5,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4, "pib": 1024**5,
    "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5,
}  # fmt: skip
SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]*)\s*$")
# `docker stats` writes cursor codes (ESC[H, ESC[J, ESC[K...) between frames, even in JSON.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CLEAR_SCREEN = "\x1b[H"
# A count as docker prints it. Not str.isdigit(): that takes '²', which int() refuses, and
# more digits than int() converts.
COUNT_TEXT = re.compile(r"[0-9]{1,19}")


def parse_size(text: str) -> int:
    """Bytes from a size as docker or compose prints it: `1.355MiB`, `796 KiB`, `512m`, `0B`."""
    match = SIZE_PATTERN.match(text)
    if match is None:
        raise ParseError("size", text)
    number, unit = match.groups()
    multiplier = SIZE_UNITS.get(unit.lower())
    if multiplier is None:
        raise ParseError("size", text, f"unknown unit {unit!r}")
    # A whole number stays exact (a float keeps 53 bits); past 20 digits it is out of range (or 0-padded).
    exact = number.isdigit() and len(number) <= 20
    value = int(number) * multiplier if exact else float(number) * multiplier
    if not math.isfinite(value) or value >= 2**63:
        raise ParseError("size", text, "out of range")
    return round(value)


def parse_percent(text: str) -> float | None:
    """A percentage such as `12.5%`; None for docker's `--` (not measured)."""
    stripped = text.strip()
    if stripped in ("--", ""):
        return None
    number = stripped.removesuffix("%").strip()
    try:
        value = float(number)
    except ValueError:
        raise ParseError("percentage", text) from None
    if not math.isfinite(value) or value < 0:
        raise ParseError("percentage", text, "out of range")
    return value


def strip_escape_codes(line: str) -> str:
    """A line of `docker stats` output without the terminal codes written between frames."""
    return ANSI_ESCAPE.sub("", line)


def starts_frame(line: str) -> bool:
    """True when this raw line of a `docker stats` stream begins a new frame."""
    return CLEAR_SCREEN in line


def _load_object(what: str, text: str) -> Mapping[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise ParseError(what, text, "not JSON") from None
    if not isinstance(value, dict):
        raise ParseError(what, text, "not a JSON object")
    return value


def _string(what: str, document: Mapping[str, Any], key: str, text: str) -> str:
    value = document.get(key)
    if not isinstance(value, str):
        raise ParseError(what, text, f"field {key!r} missing or not a string")
    return value


def _optional_string(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    return value if isinstance(value, str) and value else None


def parse_stats_line(line: str) -> ContainerStats:
    """One line of `docker stats --format '{{json .}}'` (escape codes are stripped first)."""
    text = strip_escape_codes(line).strip()
    what = "docker stats line"
    document = _load_object(what, text)
    name = _string(what, document, "Name", text)
    container_id = _optional_string(document, "ID") or _string(what, document, "Container", text)
    usage_text = _string(what, document, "MemUsage", text)
    try:
        usage, limit = _parse_memory_usage(usage_text)
        memory_percent = parse_percent(_string(what, document, "MemPerc", text))
        cpu_percent = parse_percent(_string(what, document, "CPUPerc", text))
    except ParseError as error:
        raise ParseError(what, text, str(error)) from None
    if limit is None:
        memory_percent = None  # no limit: there is no percentage of it
    measured = usage_text.partition("/")[0].strip() not in ("--", "")
    pids_text = document.get("PIDs")
    pids = int(pids_text) if isinstance(pids_text, str) and COUNT_TEXT.fullmatch(pids_text) else None
    return ContainerStats(
        id=container_id,
        name=name.lstrip("/"),
        memory_usage_bytes=usage,
        memory_limit_bytes=limit,
        memory_percent=memory_percent,
        cpu_percent=cpu_percent,
        pids=pids,
        measured=measured,
    )


def _parse_memory_usage(text: str) -> tuple[int, int | None]:
    """`1.355MiB / 9.459GiB`, `796 KiB / 64 MiB`, `0B / 0B`, `-- / --`, or Windows' `22.5MiB`."""
    used, slash, limit = (part.strip() for part in text.partition("/"))
    usage = 0 if used in ("--", "") else parse_size(used)  # `-- / --`: a container not running
    if not slash or limit == "--":
        return usage, None  # Windows containers report no limit
    limit_bytes = parse_size(limit)
    return usage, (limit_bytes if limit_bytes > 0 else None)


def stats_line_id(line: str) -> str | None:
    """The container ID of a `docker stats` JSON line, found without parsing it (None if none)."""
    at = line.find('"ID":"')
    if at < 0:
        return None
    end = line.find('"', at + 6)
    return line[at + 6 : end] if end > at + 6 else None


def iter_json_objects(what: str, text: str) -> Iterator[Mapping[str, Any]]:
    """Objects from JSON lines, or from one JSON array (as some older tools print)."""
    stripped = text.strip()
    if not stripped:
        return
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError):
            raise ParseError(what, text, "not JSON") from None
        if not isinstance(value, list):
            raise ParseError(what, text, "not a JSON array")
        for item in value:
            if not isinstance(item, dict):
                raise ParseError(what, text, "an item is not a JSON object")
            yield item
        return
    for line in stripped.splitlines():
        if line.strip():
            yield _load_object(what, line.strip())


def _label_map(labels: str) -> dict[str, str]:
    """`docker ps`'s comma-joined labels. A piece without `=` continues the previous value
    (compose's config_files label holds commas itself)."""
    result: dict[str, str] = {}
    last_key: str | None = None
    for piece in labels.split(","):
        key, equals, value = piece.partition("=")
        if equals and key:
            result[key] = value
            last_key = key
        elif last_key is not None:
            result[last_key] += "," + piece
    return result


def parse_container_summary(document: Mapping[str, Any], text: str = "") -> ContainerSummary:
    """One container of `docker ps -a --format '{{json .}}'` (or dockermem's own template)."""
    what = "docker ps line"
    text = text or json.dumps(document)[:200]
    labels_text = document.get("Labels")
    labels = _label_map(labels_text) if isinstance(labels_text, str) else {}

    def label(field: str, key: str) -> str | None:
        return _optional_string(document, field) if field in document else (labels.get(key) or None)

    return ContainerSummary(
        id=_string(what, document, "ID", text),
        name=_string(what, document, "Names", text).split(",")[0].lstrip("/"),
        image=_optional_string(document, "Image") or "",
        state=(_optional_string(document, "State") or "").lower(),
        status=_optional_string(document, "Status") or "",
        created_at=parse_docker_time(_optional_string(document, "CreatedAt") or ""),
        project=label("Project", PROJECT_LABEL),
        service=label("Service", SERVICE_LABEL),
        working_dir=label("WorkingDir", WORKING_DIR_LABEL),
        config_files=label("ConfigFiles", CONFIG_FILES_LABEL),
    )


def parse_container_summaries(text: str) -> list[ContainerSummary]:
    """Every container of `docker ps -a`."""
    return [parse_container_summary(item) for item in iter_json_objects("docker ps output", text)]


def parse_named_resources(what: str, text: str) -> list[NamedResource]:
    """Networks of `docker network ls` or volumes of `docker volume ls` (`{{json .}}`)."""
    resources = []
    for item in iter_json_objects(what, text):
        labels_text = item.get("Labels")
        labels = _label_map(labels_text) if isinstance(labels_text, str) else {}
        resources.append(
            NamedResource(
                name=_string(what, item, "Name", json.dumps(item)[:200]),
                driver=_optional_string(item, "Driver") or "",
                project=labels.get(PROJECT_LABEL) or None,
                compose_name=labels.get(NETWORK_LABEL) or labels.get(VOLUME_LABEL) or None,
                created_at=parse_docker_time(_optional_string(item, "CreatedAt") or ""),
            )
        )
    return resources


def parse_compose_ps(text: str) -> list[ComposeContainer]:
    """`docker compose ps --format json`: JSON lines, or one JSON array before Compose 2.21
    (docker/compose#10958 changed it)."""
    what = "docker compose ps output"
    containers = []
    for item in iter_json_objects(what, text):
        exit_code = item.get("ExitCode")
        containers.append(
            ComposeContainer(
                id=_string(what, item, "ID", text),
                name=_string(what, item, "Name", text),
                project=_optional_string(item, "Project") or "",
                service=_string(what, item, "Service", text),
                state=(_optional_string(item, "State") or "").lower(),
                health=(_optional_string(item, "Health") or "").lower(),
                exit_code=exit_code
                if isinstance(exit_code, int) and not isinstance(exit_code, bool)
                else None,
            )
        )
    return containers


def parse_compose_memory(value: object, what: str) -> int | None:
    """A compose memory figure: a byte count (compose config prints quoted strings) or `512m`."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParseError(what, str(value))
    if isinstance(value, int | float):
        if value < 0 or value >= 2**63 or not math.isfinite(value):  # a huge int overflows isfinite
            raise ParseError(what, str(value), "out of range")
        return int(value) or None
    if isinstance(value, str):
        return parse_size(value) or None
    raise ParseError(what, str(value)[:80])


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_compose_config(text: str) -> ComposeProjectConfig:
    """The memory figures of each service in `docker compose config --format json`."""
    what = "docker compose config output"
    document = _load_object(what, text)
    services_document = document.get("services")
    if not isinstance(services_document, dict):
        raise ParseError(what, text, "no services")
    services = []
    for name, raw_service in sorted(services_document.items()):
        service = _mapping(raw_service)
        resources = _mapping(_mapping(service.get("deploy")).get("resources"))
        limit = parse_compose_memory(_mapping(resources.get("limits")).get("memory"), f"{name} limit")
        if limit is None:
            limit = parse_compose_memory(service.get("mem_limit"), f"{name} mem_limit")
        reservation = parse_compose_memory(service.get("mem_reservation"), f"{name} mem_reservation")
        if reservation is None:
            reservation = parse_compose_memory(
                _mapping(resources.get("reservations")).get("memory"), f"{name} reservation"
            )
        network_mode = service.get("network_mode")
        services.append(
            ComposeService(
                name=str(name),
                limit_bytes=limit,
                reservation_bytes=reservation,
                network_mode=network_mode if isinstance(network_mode, str) else None,
                replicas=_replicas(service, f"{name} replicas"),
                depends_on=_dependencies(service),
                post_start=bool(service.get("post_start")),
                profiles=tuple(str(name) for name in service.get("profiles") or () if isinstance(name, str)),
            )
        )
    return ComposeProjectConfig(
        name=_optional_string(document, "name") or "",
        services=tuple(services),
        networks=_created(document.get("networks")),
        volumes=_created(document.get("volumes")),
    )


def _created(declared: object) -> tuple[str, ...]:
    """The networks or volumes compose creates: those declared, less the `external` ones (they
    must exist already, and compose never makes them)."""
    return tuple(
        sorted(str(key) for key, value in _mapping(declared).items() if not _mapping(value).get("external"))
    )


def _dependencies(service: Mapping[str, Any]) -> tuple[ServiceDependency, ...]:
    """`depends_on`, which compose config prints in its long form: {service: {condition: ...}}."""
    return tuple(
        ServiceDependency(str(name), str(_mapping(how).get("condition") or "service_started"))
        for name, how in sorted(_mapping(service.get("depends_on")).items())
    )


def _replicas(service: Mapping[str, Any], what: str) -> int:
    """How many containers compose runs for a service: `deploy.replicas`, else `scale`, else 1."""
    value = _mapping(service.get("deploy")).get("replicas")
    if value is None:
        value = service.get("scale")
    if value is None:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise ParseError(what, str(value)[:80], "not a count")
    return value


def _int_field(what: str, document: Mapping[str, Any], key: str, text: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ParseError(what, text, f"field {key!r} missing or not a count")
    return value


def info_server_errors(text: str) -> str:
    """What `docker info --format '{{json .}}'` says of an engine it could not ask, else "".
    The CLI exits 0 all the same, the daemon's errors in `ServerErrors` (CLI 20.10 says so
    there only; 28 on stderr too): an unreachable daemon, a host that is no Docker engine."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return ""
    errors = document.get("ServerErrors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return ""
    return "\n".join(error for error in errors if isinstance(error, str))


def parse_engine_info(text: str) -> EngineInfo:
    """`docker info --format '{{json .}}'`."""
    what = "docker info output"
    document = _load_object(what, text.strip())
    memory_total = _int_field(what, document, "MemTotal", text)
    if memory_total <= 0:
        raise ParseError(what, text, "MemTotal is not positive")
    return EngineInfo(
        name=_optional_string(document, "Name") or "",
        server_version=_optional_string(document, "ServerVersion") or "",
        operating_system=_optional_string(document, "OperatingSystem") or "",
        memory_total_bytes=memory_total,
        cpus=_int_field(what, document, "NCPU", text),
        cgroup_version=_optional_string(document, "CgroupVersion"),
        cgroup_driver=_optional_string(document, "CgroupDriver"),
    )


def parse_engine_version(text: str) -> EngineVersion:
    """`docker version --format '{{json .Server}}'`: Podman lists a "Podman Engine" component."""
    what = "docker version output"
    document = _load_object(what, text.strip())
    components = document.get("Components")
    names = [
        component.get("Name")
        for component in (components if isinstance(components, list) else ())
        if isinstance(component, dict)
    ]
    podman = any(isinstance(name, str) and name.startswith("Podman") for name in names)
    return EngineVersion(
        kind=PODMAN if podman else DOCKER,
        version=_optional_string(document, "Version") or "",
        api_version=_optional_string(document, "ApiVersion") or "",
    )


def parse_docker_time(text: str) -> datetime | None:
    """A time as `docker ps`/`network ls` print it, or RFC 3339 as `inspect` does; None if absent."""
    text = text.strip()
    if not text:
        return None
    match = DOCKER_TIME.match(text)
    try:
        if match is not None:
            # Built from the fields, not with strptime: its first call alone (locale tables) takes 8 ms.
            year, month, day, hour, minute, second, fraction, sign, zone_hours, zone_minutes = match.groups()
            if int(zone_minutes) > 59:
                raise ValueError("an offset's minutes run to 59")
            zone = timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
            micro = int((fraction or "")[:6].ljust(6, "0"))  # docker prints nanoseconds
            fields = (int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
            return datetime(*fields, tzinfo=timezone(-zone if sign == "-" else zone))
        # RFC 3339 with nanoseconds: keep microseconds for datetime.
        trimmed = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
        return datetime.fromisoformat(trimmed)
    except ValueError:
        raise ParseError("time", text) from None


def _labels_of(document: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_mapping(document.get("Config")).get("Labels"))


def parse_container_states(text: str) -> list[ContainerState]:
    """`docker inspect` of containers (a JSON array)."""
    what = "docker inspect output"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise ParseError(what, text, "not JSON") from None
    if not isinstance(value, list):
        raise ParseError(what, text, "not a JSON array")
    states = []
    for item in value:
        if not isinstance(item, dict):
            raise ParseError(what, text, "an item is not a JSON object")
        state = _mapping(item.get("State"))
        health = _mapping(state.get("Health"))
        log = health.get("Log")
        last = log[-1] if isinstance(log, list) and log and isinstance(log[-1], dict) else {}
        labels = _labels_of(item)
        memory = _mapping(item.get("HostConfig")).get("Memory")
        exit_code = state.get("ExitCode")
        pid = state.get("Pid")
        restarts = item.get("RestartCount")
        states.append(
            ContainerState(
                id=_string(what, item, "Id", text),
                name=(_optional_string(item, "Name") or "").lstrip("/"),
                status=_string(what, state, "Status", text),
                oom_killed=state.get("OOMKilled") is True,
                exit_code=exit_code if isinstance(exit_code, int) else 0,
                pid=pid if isinstance(pid, int) else 0,
                restart_count=restarts if isinstance(restarts, int) else 0,
                health_status=_optional_string(health, "Status"),
                last_health_output=(last.get("Output") or "").strip() or None
                if isinstance(last.get("Output"), str)
                else None,
                memory_limit_bytes=memory
                if isinstance(memory, int) and not isinstance(memory, bool) and memory > 0
                else None,
                project=_optional_string(labels, PROJECT_LABEL),
                service=_optional_string(labels, SERVICE_LABEL),
                one_off=_optional_string(labels, ONE_OFF_LABEL) == "True",
                health_checks_run=len(log) if isinstance(log, list) else 0,
                started_at=_state_time(state, "StartedAt"),
                finished_at=_state_time(state, "FinishedAt"),
            )
        )
    return states


def _state_time(state: Mapping[str, Any], key: str) -> datetime | None:
    # Docker and Podman say "never" (not started, or not exited) with the zero time, year 1.
    text = _optional_string(state, key)
    if not text or text.startswith("0001-01-01"):
        return None
    try:
        return parse_docker_time(text)
    except ParseError:
        return None  # a time it cannot read tells nothing: as if absent


# Podman's Docker API words two actions its own way: a removal is `remove` (and a death, though
# shown as `die`, is filtered as `died`; see docker/events.py). Docker's words are the ones used.
PODMAN_ACTIONS = {"remove": "destroy", "died": "die"}


def parse_event(line: str) -> ContainerEvent:
    """One line of `docker events --format '{{json .}}'` about a container."""
    what = "docker events line"
    document = _load_object(what, line.strip())
    actor = _mapping(document.get("Actor"))
    attributes = _mapping(actor.get("Attributes"))
    time_nano = document.get("timeNano")
    seconds = document.get("time")
    try:
        if isinstance(time_nano, int) and not isinstance(time_nano, bool):
            when = datetime.fromtimestamp(time_nano / 1e9, UTC)
        elif isinstance(seconds, int) and not isinstance(seconds, bool):
            when = datetime.fromtimestamp(seconds, UTC)
        else:
            raise ParseError(what, line, "no time")
    except (OverflowError, ValueError, OSError):
        raise ParseError(what, line, "time out of range") from None
    action = _optional_string(document, "Action") or _optional_string(document, "status")
    action = PODMAN_ACTIONS.get(action or "", action)
    container_id = _optional_string(actor, "ID") or _optional_string(document, "id")
    if action is None or container_id is None:
        raise ParseError(what, line, "no action or container")
    exit_text = attributes.get("exitCode")
    return ContainerEvent(
        time=when,
        action=action,
        container_id=container_id,
        name=str(attributes.get("name") or ""),
        project=str(attributes.get(PROJECT_LABEL)) if attributes.get(PROJECT_LABEL) else None,
        service=str(attributes.get(SERVICE_LABEL)) if attributes.get(SERVICE_LABEL) else None,
        exit_code=int(exit_text)
        if isinstance(exit_text, str) and COUNT_TEXT.fullmatch(exit_text.removeprefix("-"))
        else None,
    )


def parse_volume_times(text: str) -> dict[str, datetime | None]:
    """Lines of `docker volume inspect --format '{{json .Name}} {{json .CreatedAt}}'`."""
    times: dict[str, datetime | None] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name_text, _, time_text = line.strip().partition(" ")
        try:
            name, created = json.loads(name_text), json.loads(time_text or '""')
        except (ValueError, RecursionError):
            raise ParseError("docker volume inspect line", line) from None
        if not isinstance(name, str) or not isinstance(created, str):
            raise ParseError("docker volume inspect line", line)
        times[name] = parse_docker_time(created)
    return times


def parse_container_pids(text: str) -> dict[str, int]:
    """Lines of `docker inspect --format '{{.Id}} {{.State.Pid}}'`."""
    return _container_counts(text, "docker inspect pid line", unknown_allowed=False)


def parse_container_sizes(text: str) -> dict[str, int]:
    """Lines of `docker inspect --size --format '{{.Id}} {{.SizeRw}}'`; a container whose size
    the engine did not give (`<no value>`, nothing) is left out."""
    return _container_counts(text, "docker inspect size line", unknown_allowed=True)


def _container_counts(text: str, what: str, *, unknown_allowed: bool) -> dict[str, int]:
    """Lines of a container ID and a count."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        container_id, _, count = line.strip().partition(" ")
        if not container_id:
            continue
        if COUNT_TEXT.fullmatch(count):
            counts[container_id] = int(count)
        elif not unknown_allowed:
            raise ParseError(what, line)
    return counts


def parse_replicas(text: str) -> list[ReplicaContainer]:
    """Lines of `docker container inspect` with five JSON values each (id, name, created,
    status, compose's container number); a line that does not read is skipped: a container
    removed between the listing and the inspect prints nothing."""
    replicas = []
    decoder = json.JSONDecoder()
    for line in text.splitlines():
        values: list[object] = []
        position = 0
        stripped = line.strip()
        try:
            while position < len(stripped):
                value, position = decoder.raw_decode(stripped, position)
                values.append(value)
                while position < len(stripped) and stripped[position] == " ":
                    position += 1
        except (json.JSONDecodeError, RecursionError):
            continue
        if len(values) != 5 or not all(isinstance(v, str) for v in values[:4]):
            continue
        container_id, name, created, status = (str(v) for v in values[:4])
        number = values[4]
        replicas.append(
            ReplicaContainer(
                id=container_id,
                name=name.lstrip("/"),
                number=int(number) if isinstance(number, str) and COUNT_TEXT.fullmatch(number) else None,
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


def removed_names(names: Sequence[str], stdout: str, stderr: str) -> Removal:
    """What `docker rm` / `network rm` / `volume rm` removed of `names` (it prints each removed
    one as it was given, or a container's short ID), and each refusal it printed."""
    printed = {line.strip() for line in stdout.splitlines() if line.strip()}
    removed = tuple(name for name in names if name in printed or name[:12] in printed)
    refused = tuple(line.strip() for line in stderr.splitlines() if line.strip())
    return Removal(removed, refused)
