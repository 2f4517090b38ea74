"""Every parser of dockermem/docker/parse.py on bad input: random text and recorded docker
outputs (tests/fixtures/) mutated as text and as JSON. Each may refuse with ParseError, and
with nothing else; what it returns holds the types (and ranges) its models document."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from hypothesis import given, note
from hypothesis import strategies as st

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
    PROJECT_LABEL,
    SERVICE_LABEL,
    iter_json_objects,
    parse_compose_config,
    parse_compose_memory,
    parse_compose_ps,
    parse_container_pids,
    parse_container_states,
    parse_container_summaries,
    parse_docker_time,
    parse_engine_info,
    parse_event,
    parse_named_resources,
    parse_percent,
    parse_size,
    parse_stats_line,
    parse_volume_times,
)
from dockermem.errors import ParseError
from tests.property.mutations import (
    BAD_INPUT,
    Build,
    Choices,
    check_model,
    docker_output,
    docker_time_text,
    fixture_texts,
    json_documents,
    mutate,
    nonblank_lines,
    random_json,
    random_text,
    size_text,
    together,
)
from tests.recorded import stats_lines

P = ParamSpec("P")
T = TypeVar("T")


def parsed(parse: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
    """What the parser returns, or None when it refuses with ParseError. Anything else it
    raises fails the test."""
    try:
        return parse(*args, **kwargs)
    except ParseError as error:
        assert str(error).startswith("cannot parse ")
        return None


def _values_of(value: object, keys: frozenset[str]) -> Iterator[object]:
    """Every value under one of `keys`, anywhere in a JSON document."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key in keys:
                yield child
            yield from _values_of(child, keys)
    elif isinstance(value, list):
        for child in value:
            yield from _values_of(child, keys)


STATS_JSON = fixture_texts("stats", "*.jsonl")
STATS_RAW = fixture_texts("stats", "*.raw")
PS = fixture_texts("ps")
NETWORKS = fixture_texts("network-ls")
VOLUMES = fixture_texts("volume-ls")
COMPOSE_PS = fixture_texts("compose-ps")
COMPOSE_CONFIG = fixture_texts("compose-config", "*.json")
INFO = fixture_texts("info")
INSPECT = fixture_texts("inspect")
EVENTS = fixture_texts("events")
ALL_JSON = [*STATS_JSON, *PS, *NETWORKS, *VOLUMES, *COMPOSE_PS, *COMPOSE_CONFIG, *INFO, *INSPECT, *EVENTS]
DOCUMENTS = [document for text in ALL_JSON for document in json_documents(text)[0]]


def _strings_under(*keys: str) -> list[str]:
    found = sorted({value for value in _values_of(DOCUMENTS, frozenset(keys)) if isinstance(value, str)})
    assert found, keys
    return found


TIMES = _strings_under("CreatedAt", "Created", "StartedAt", "FinishedAt", "Start", "End")
SIZES = sorted(
    {half.strip() for usage in _strings_under("MemUsage") for half in usage.split("/")}
    | {str(value) for value in _values_of(DOCUMENTS, frozenset({"mem_limit", "mem_reservation", "memory"}))}
)
PERCENTS = _strings_under("MemPerc", "CPUPerc")
INSPECTED = [item for text in INSPECT for item in json.loads(text)]
# The recorded inspect and events outputs are of plain `docker run` containers; compose's carry
# its labels, which the parsers read: the same records, labelled, as further seeds.
COMPOSE_LABELS = {PROJECT_LABEL: "dockermem-demo", SERVICE_LABEL: "backend"}


def _labelled(document: dict[str, Any], *path: str) -> dict[str, Any]:
    """`document` with compose's labels added to the mapping at `path`."""
    if not path:
        return {**document, **COMPOSE_LABELS}
    return {**document, path[0]: _labelled(document.get(path[0]) or {}, *path[1:])}


INSPECT_SEEDS = [*INSPECT, json.dumps([_labelled(item, "Config", "Labels") for item in INSPECTED], indent=4)]
EVENT_LINES = nonblank_lines(EVENTS)
EVENT_SEEDS = EVENT_LINES + [
    json.dumps(_labelled(json.loads(line), "Actor", "Attributes")) for line in EVENT_LINES
]
# `docker inspect --format '{{.Id}} {{.State.Pid}}'` and
# `docker volume inspect --format '{{json .Name}} {{json .CreatedAt}}'`, built from the records.
PID_LINES = [f"{item['Id']} {item['State']['Pid']}\n" for item in INSPECTED]
VOLUME_TIME_LINES = [
    f"{json.dumps(name)} {json.dumps(created)}\n"
    for name, created in zip(_strings_under("Name") + ["dockermem-fixture-vol"], TIMES * 3, strict=False)
]


def recorded_or_made(make: Build[str], seeds: Sequence[str]) -> Build[str]:
    """Values as recorded (mutated), as `make` makes them (in and out of range), or random."""

    def build(choices: Choices) -> str:
        kind = choices.below(4)
        if kind == 0:
            return mutate(choices, choices.pick(seeds), choices.below(4))
        if kind == 3:
            return random_text(choices)
        return make(choices)

    return build


ODD_NUMBERS: tuple[object, ...] = (
    2**63 - 1,
    2**63,
    float(2**63),
    10**400,
    -1,
    -0.5,
    1e-300,
    float("nan"),
    float("inf"),
    True,
    b"1",
    object(),
)


def compose_memory_value(choices: Choices) -> object:
    """What `docker compose config` might hold where a memory figure belongs."""
    kind = choices.below(6)
    if kind == 0:
        return mutate(choices, choices.pick(SIZES), choices.below(3))
    if kind == 1:
        return size_text(choices)
    if kind == 2:
        return random_json(choices)
    if kind == 3:
        return choices.pick(ODD_NUMBERS)
    if kind == 4:
        return choices.below(2**65) - 2**64
    return (choices.below(2**65) - 2**64) / (1 + choices.below(2**16))


# One check for each parser: it refuses with ParseError, or returns what its models document.


def check_size(text: str) -> None:
    size = parsed(parse_size, text)
    assert size is None or (type(size) is int and 0 <= size < 2**63)


def check_percent(text: str) -> None:
    percent = parsed(parse_percent, text)
    assert percent is None or (type(percent) is float and math.isfinite(percent) and percent >= 0)


def check_compose_memory(value: object) -> None:
    memory = parsed(parse_compose_memory, value, "service limit")
    assert memory is None or (type(memory) is int and 0 < memory < 2**63)


def check_docker_time(text: str) -> None:
    time = parsed(parse_docker_time, text)
    assert time is None or isinstance(time, datetime)


def check_stats_line(line: str) -> None:
    stats = parsed(parse_stats_line, line)
    if stats is not None:
        check_stats(stats)


def check_stats_lines(text: str) -> None:
    stats = parsed(stats_lines, text)
    assert stats is None or isinstance(stats, list)
    for item in stats or []:
        check_stats(item)


def check_stats(stats: ContainerStats) -> None:
    assert isinstance(stats, ContainerStats)
    check_model(stats)
    assert stats.memory_usage_bytes >= 0
    assert stats.memory_limit_bytes is None or 0 < stats.memory_limit_bytes < 2**63
    for percent in (stats.memory_percent, stats.cpu_percent):
        assert percent is None or (math.isfinite(percent) and percent >= 0)
    if stats.memory_limit_bytes is None:
        assert stats.memory_percent is None
    assert stats.pids is None or stats.pids >= 0
    assert not stats.name.startswith("/")


def check_json_objects(text: str) -> None:
    objects = parsed(lambda: list(iter_json_objects("docker output", text)))
    assert objects is None or all(isinstance(item, dict) for item in objects)


def check_container_summaries(text: str) -> None:
    summaries = parsed(parse_container_summaries, text)
    for summary in summaries or []:
        assert isinstance(summary, ContainerSummary)
        check_model(summary)
        assert not summary.name.startswith("/")
        assert summary.state == summary.state.lower()


def check_named_resources(text: str) -> None:
    resources = parsed(parse_named_resources, "docker network ls output", text)
    for resource in resources or []:
        assert isinstance(resource, NamedResource)
        check_model(resource)


def check_compose_ps(text: str) -> None:
    containers = parsed(parse_compose_ps, text)
    for container in containers or []:
        assert isinstance(container, ComposeContainer)
        check_model(container)
        assert not isinstance(container.exit_code, bool)


def check_compose_config(text: str) -> None:
    config = parsed(parse_compose_config, text)
    if config is not None:
        assert isinstance(config, ComposeProjectConfig)
        check_model(config)
        for service in config.services:
            for figure in (service.limit_bytes, service.reservation_bytes):
                assert figure is None or (type(figure) is int and 0 < figure < 2**63)


def check_engine_info(text: str) -> None:
    info = parsed(parse_engine_info, text)
    if info is not None:
        assert isinstance(info, EngineInfo)
        check_model(info)
        assert info.memory_total_bytes > 0
        assert info.cpus >= 0


def check_event(line: str) -> None:
    event = parsed(parse_event, line)
    if event is not None:
        assert isinstance(event, ContainerEvent)
        check_model(event)
        assert event.time.tzinfo is not None


def check_container_states(text: str) -> None:
    states = parsed(parse_container_states, text)
    for state in states or []:
        assert isinstance(state, ContainerState)
        check_model(state)
        assert state.memory_limit_bytes is None or state.memory_limit_bytes > 0


def check_container_pids(text: str) -> None:
    pids = parsed(parse_container_pids, text)
    for container_id, pid in (pids or {}).items():
        assert isinstance(container_id, str) and container_id
        assert type(pid) is int and pid >= 0


def check_volume_times(text: str) -> None:
    times = parsed(parse_volume_times, text)
    for name, created in (times or {}).items():
        assert isinstance(name, str)
        assert created is None or isinstance(created, datetime)


TEXT_CHECKS: tuple[Callable[[str], None], ...] = (
    check_size,
    check_percent,
    check_compose_memory,
    check_docker_time,
    check_stats_line,
    check_stats_lines,
    check_json_objects,
    check_container_summaries,
    check_named_resources,
    check_compose_ps,
    check_compose_config,
    check_engine_info,
    check_event,
    check_container_states,
    check_container_pids,
    check_volume_times,
)


# The tests. Hypothesis spends about 0.35 ms on an example before the test body runs (this
# 2-core machine); a test that feeds each of a few parsers its own input in every example
# gives each of them 10,000 examples for the overhead of one.


@BAD_INPUT
@given(text=st.text())
def test_every_parser_on_random_text(text: str) -> None:
    for check in TEXT_CHECKS:
        check(text)


@BAD_INPUT
@given(
    inputs=together(
        recorded_or_made(size_text, SIZES),
        recorded_or_made(lambda choices: size_text(choices).replace("B", "%"), PERCENTS),
        compose_memory_value,
        recorded_or_made(docker_time_text, TIMES),
    )
)
def test_figures(inputs: tuple[str, str, object, str]) -> None:
    """parse_size, parse_percent, parse_compose_memory, parse_docker_time."""
    note(inputs)
    size, percent, memory, time = inputs
    check_size(size)
    check_percent(percent)
    check_compose_memory(memory)
    check_docker_time(time)


@BAD_INPUT
@given(
    inputs=together(
        docker_output(STATS_JSON + STATS_RAW, json_texts=STATS_JSON),
        docker_output(nonblank_lines(STATS_JSON + STATS_RAW), json_texts=nonblank_lines(STATS_JSON)),
    )
)
def test_docker_stats(inputs: tuple[str, str]) -> None:
    """stats_lines on whole outputs (frames of a stream too), parse_stats_line on lines."""
    note(inputs)
    text, line = inputs
    check_stats_lines(text)
    check_stats_line(line)


@BAD_INPUT
@given(
    inputs=together(
        docker_output(PS, json_texts=PS),
        docker_output(NETWORKS + VOLUMES, json_texts=NETWORKS + VOLUMES),
        docker_output(ALL_JSON, json_texts=ALL_JSON),
    )
)
def test_listings(inputs: tuple[str, str, str]) -> None:
    """parse_container_summaries (`docker ps`), parse_named_resources (`network ls`,
    `volume ls`), and iter_json_objects (under them) on any recorded JSON output."""
    note(inputs)
    ps, resources, any_json = inputs
    check_container_summaries(ps)
    check_named_resources(resources)
    check_json_objects(any_json)


@BAD_INPUT
@given(
    inputs=together(
        docker_output(COMPOSE_PS, json_texts=COMPOSE_PS),
        docker_output(COMPOSE_CONFIG, json_texts=COMPOSE_CONFIG),
    )
)
def test_compose(inputs: tuple[str, str]) -> None:
    """parse_compose_ps, parse_compose_config."""
    note(inputs)
    ps, config = inputs
    check_compose_ps(ps)
    check_compose_config(config)


@BAD_INPUT
@given(
    inputs=together(
        docker_output(INSPECT_SEEDS, json_texts=INSPECT_SEEDS),
        docker_output(["".join(PID_LINES), *PID_LINES]),
        docker_output(["".join(VOLUME_TIME_LINES), *VOLUME_TIME_LINES]),
    )
)
def test_inspect(inputs: tuple[str, str, str]) -> None:
    """parse_container_states, parse_container_pids, parse_volume_times."""
    note(inputs)
    states, pids, volume_times = inputs
    check_container_states(states)
    check_container_pids(pids)
    check_volume_times(volume_times)


@BAD_INPUT
@given(
    inputs=together(
        docker_output(INFO, json_texts=INFO),
        docker_output(EVENT_SEEDS, json_texts=EVENT_SEEDS),
    )
)
def test_engine(inputs: tuple[str, str]) -> None:
    """parse_engine_info (`docker info`), parse_event (`docker events`)."""
    note(inputs)
    info, event = inputs
    check_engine_info(info)
    check_event(event)
