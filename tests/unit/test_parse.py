"""Parsers on recorded real outputs (tests/fixtures/<command>/), plus the forms docker and
compose print elsewhere (the `documented-*` files, written from their documented formats)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockermem.docker.models import ServiceDependency
from dockermem.docker.parse import (
    parse_compose_config,
    parse_compose_memory,
    parse_compose_ps,
    parse_container_states,
    parse_container_summaries,
    parse_engine_info,
    parse_engine_version,
    parse_named_resources,
    parse_percent,
    parse_size,
    parse_stats_line,
    starts_frame,
    strip_escape_codes,
)
from dockermem.errors import ParseError
from tests.conftest import FIXTURES
from tests.recorded import stats_lines

MIB = 1024**2


def fixture_files(folder: str, pattern: str = "*") -> list[Path]:
    files = sorted((FIXTURES / folder).glob(pattern))
    assert files, f"no fixtures in {folder}"
    return files


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0B", 0),
        ("1.355MiB", round(1.355 * MIB)),
        ("9.459GiB", round(9.459 * 1024**3)),
        ("796 KiB", 796 * 1024),
        ("64 MiB", 64 * MIB),
        ("1kB", 1000),
        ("1KB", 1000),
        ("2MB", 2_000_000),
        ("1.5GB", 1_500_000_000),
        ("1TB", 10**12),
        ("1TiB", 1024**4),
        ("512m", 512 * MIB),
        ("1g", 1024**3),
        ("268435456", 268435456),
        ("12.5 kb", 12500),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MiB", "1.2.3MiB", "12XB", "-5MiB", "nan", "1e400GiB", "1 2 MiB"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ParseError):
        parse_size(text)


def test_parse_percent() -> None:
    assert parse_percent("12.5%") == 12.5
    assert parse_percent("--") is None
    with pytest.raises(ParseError):
        parse_percent("abc%")


@pytest.mark.parametrize("path", fixture_files("stats", "*.jsonl"), ids=lambda p: p.name)
def test_every_recorded_stats_line_parses(path: Path) -> None:
    stats = stats_lines(path.read_text())
    assert stats
    for line in stats:
        assert line.memory_usage_bytes >= 0
        assert line.name and line.id
        if line.memory_limit_bytes is not None:
            assert line.memory_limit_bytes > 0


def test_recorded_stats_values() -> None:
    stats = {s.name: s for s in stats_lines((FIXTURES / "stats/nostream-running.jsonl").read_text())}
    limited = stats["dm-stats-limited"]
    assert limited.memory_usage_bytes == round(40.39 * MIB)
    assert limited.memory_limit_bytes == 128 * MIB
    assert limited.memory_percent == 31.56
    assert limited.cpu_percent == 0.0
    assert limited.pids == 1


def test_stopped_container_has_no_limit() -> None:
    text = (FIXTURES / "stats/nostream-all-with-created-and-exited.jsonl").read_text()
    stopped = [s for s in stats_lines(text) if s.name in ("dm-stats-exited", "dm-stats-created")]
    assert stopped and all(s.memory_usage_bytes == 0 and s.memory_limit_bytes is None for s in stopped)
    assert all(s.memory_percent is None for s in stopped)


def test_older_units_with_spaces() -> None:
    stats = stats_lines((FIXTURES / "stats/documented-old-units.jsonl").read_text())
    assert stats[0].memory_usage_bytes == 796 * 1024
    assert stats[0].memory_limit_bytes == 64 * MIB


def test_windows_form_without_limit() -> None:
    stats = stats_lines((FIXTURES / "stats/documented-windows.jsonl").read_text())
    assert stats[0].memory_limit_bytes is None
    assert stats[0].memory_percent is None
    assert stats[0].memory_usage_bytes == round(22.5 * MIB)


@pytest.mark.parametrize("path", fixture_files("stats", "stream-*.raw"), ids=lambda p: p.name)
def test_stream_frames_are_split_on_the_clear_screen_code(path: Path) -> None:
    frames: list[list[str]] = []
    for raw in path.read_text().split("\n"):
        if starts_frame(raw):
            frames.append([])
        line = strip_escape_codes(raw).strip()
        if line and frames:
            frames[-1].append(parse_stats_line(raw).name)
    assert len(frames) >= 2
    assert all("\x1b" not in name for frame in frames for name in frame)
    complete = frames[:-1]  # the last frame may have been cut by the capture
    assert all(sorted(frame) == sorted(complete[0]) for frame in complete)


def test_the_narrow_stats_template_gives_the_same_values() -> None:
    """The watch and the snapshot ask docker stats for six fields only (STATS_FORMAT)."""
    raw = (FIXTURES / "stats/stream-narrow-format.raw").read_text().split("\n")
    stats = {s.name: s for s in (parse_stats_line(line) for line in raw if strip_escape_codes(line).strip())}
    limited, unlimited = stats["dm-stats-narrow"], stats["dm-stats-narrow-unlimited"]
    assert limited.id == "bfb9f8f6ab8d"
    assert limited.memory_usage_bytes == round(40.82 * MIB)
    assert (limited.memory_limit_bytes, limited.memory_percent, limited.pids) == (128 * MIB, 31.89, 1)
    assert unlimited.memory_usage_bytes == round(10.54 * MIB)
    assert unlimited.measured and limited.measured


@pytest.mark.parametrize("path", fixture_files("compose-ps"), ids=lambda p: p.name)
def test_compose_ps_lines_and_array(path: Path) -> None:
    containers = parse_compose_ps(path.read_text())
    assert containers
    assert all(c.service and c.name and c.id for c in containers)


def test_compose_ps_array_and_lines_agree() -> None:
    array = parse_compose_ps((FIXTURES / "compose-ps/documented-array-pre-2.21.json").read_text())
    assert {c.service for c in array} >= {"backend"}
    lines = parse_compose_ps((FIXTURES / "compose-ps/lines-demo-all-running.jsonl").read_text())
    assert {c.service for c in lines} == {"backend", "worker", "redis"}
    assert all(c.health == "healthy" and c.state == "running" for c in lines)


def test_compose_config_memory_fields() -> None:
    demo = parse_compose_config((FIXTURES / "compose-config/demo.json").read_text())
    assert demo.name == "dockermem-demo"
    by_name = {s.name: s for s in demo.services}
    assert by_name["backend"].limit_bytes == 256 * MIB
    assert by_name["worker"].limit_bytes == 256 * MIB  # deploy.resources.limits form
    assert by_name["worker"].reservation_bytes == 32 * MIB
    assert by_name["redis"].limit_bytes == 128 * MIB
    assert all(s.network_mode == "none" for s in demo.services)
    unbounded = parse_compose_config((FIXTURES / "compose-config/unbounded.json").read_text())
    assert any(s.limit_bytes is None for s in unbounded.services)


def test_compose_config_start_fields() -> None:
    config = parse_compose_config((FIXTURES / "compose-config/start-order.json").read_text())
    by_name = {s.name: s for s in config.services}
    assert set(by_name) == {"app", "db", "migrate"}  # `extra` is in an inactive profile
    assert (by_name["app"].replicas, by_name["db"].replicas, by_name["migrate"].replicas) == (3, 2, 1)
    assert by_name["app"].depends_on == (
        ServiceDependency("db", "service_healthy"),
        ServiceDependency("migrate", "service_completed_successfully"),
    )
    assert by_name["migrate"].depends_on == (ServiceDependency("db", "service_started"),)
    assert by_name["db"].post_start and not by_name["app"].post_start
    demo = parse_compose_config((FIXTURES / "compose-config/demo.json").read_text())
    assert all(s.replicas == 1 and s.depends_on == () for s in demo.services)


def test_compose_config_replicas_must_be_counts() -> None:
    for bad in ('"3"', "-1", "true", "1.5"):
        text = '{"name": "x", "services": {"a": {"scale": ' + bad + "}}}"
        with pytest.raises(ParseError):
            parse_compose_config(text)


def test_one_off_label() -> None:
    (child,) = parse_container_states((FIXTURES / "inspect/oom-child.json").read_text())
    assert not child.one_off
    (one_off,) = parse_container_states((FIXTURES / "inspect/compose-run-one-off.json").read_text())
    assert one_off.one_off and one_off.service == "migrate"


def test_compose_memory_forms() -> None:
    assert parse_compose_memory("268435456", "x") == 256 * MIB
    assert parse_compose_memory("512m", "x") == 512 * MIB
    assert parse_compose_memory(1024, "x") == 1024
    assert parse_compose_memory(None, "x") is None
    with pytest.raises(ParseError):
        parse_compose_memory([1], "x")


def test_engine_info() -> None:
    info = parse_engine_info((FIXTURES / "info/engine-20.10.json").read_text())
    assert info.memory_total_bytes > 1024**3
    assert info.cpus >= 1
    assert info.server_version.startswith("20.10")
    assert info.cgroup_version == "1"


@pytest.mark.parametrize(
    ("name", "kind", "version", "api"),
    [
        ("engine-20.10", "docker", "20.10.24+dfsg1", "1.41"),
        ("engine-26", "docker", "26.1.5+dfsg1", "1.45"),
        ("podman-4.3", "podman", "4.3.1", "1.41"),
    ],
)
def test_engine_version_tells_podman_from_docker(name: str, kind: str, version: str, api: str) -> None:
    parsed = parse_engine_version((FIXTURES / "version" / f"{name}.json").read_text())
    assert (parsed.kind, parsed.version, parsed.api_version) == (kind, version, api)
    engine = parse_engine_info((FIXTURES / "info" / f"{name}.json").read_text()).with_version(parsed)
    assert engine.stats_include_cache is engine.health_checks_need_systemd is (kind == "podman")
    assert engine.sends_oom_events is (kind == "docker")


def test_ps_counts_and_labels() -> None:
    containers = parse_container_summaries((FIXTURES / "ps/demo-up.jsonl").read_text())
    demo = [c for c in containers if c.project == "dockermem-demo"]
    assert {c.service for c in demo} == {"backend", "worker", "redis"}
    assert all(c.is_compose_managed and c.running for c in demo)
    assert all(c.config_files and c.config_files.endswith("demo.yaml") for c in demo)


def test_networks_and_volumes() -> None:
    networks = parse_named_resources("networks", (FIXTURES / "network-ls/demo-up.jsonl").read_text())
    assert {n.name for n in networks} >= {"bridge", "host", "none"}
    volumes = parse_named_resources(
        "volumes", (FIXTURES / "volume-ls/demo-up-named-volume.jsonl").read_text()
    )
    assert "dockermem-fixture-vol" in {v.name for v in volumes}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        '{"Name": 1}',
        '{"Name":"a","ID":"b","MemUsage":"x / y","MemPerc":"1%","CPUPerc":"1%"}',
        "null",
    ],
)
def test_bad_stats_lines_raise_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_stats_line(text)


@pytest.mark.parametrize("path", fixture_files("stats", "*.jsonl"), ids=lambda p: p.name)
def test_stats_line_id_is_the_parsed_id(path: Path) -> None:
    from dockermem.docker.parse import stats_line_id

    for line in path.read_text().splitlines():
        if line.strip():
            assert stats_line_id(line) == parse_stats_line(line).id
    assert stats_line_id("") is None and stats_line_id('{"ID":"') is None
