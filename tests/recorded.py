"""Reading recorded docker outputs whole, as the tests compare them (dockermem itself reads
`docker stats` line by line from a stream)."""

from __future__ import annotations

from dockermem.docker.models import ContainerStats, EngineInfo
from dockermem.docker.parse import (
    parse_engine_info,
    parse_engine_version,
    parse_stats_line,
    strip_escape_codes,
)
from tests.conftest import FIXTURES


def stats_lines(text: str) -> list[ContainerStats]:
    """Every container line of a recorded `docker stats` output (escape codes stripped)."""
    return [parse_stats_line(line) for raw in text.splitlines() if (line := strip_escape_codes(raw).strip())]


def recorded_engine(name: str) -> EngineInfo:
    """An engine as its recorded `docker info` and `docker version` say (`engine-26`, `podman-4.3`)."""
    info = parse_engine_info((FIXTURES / "info" / f"{name}.json").read_text())
    return info.with_version(parse_engine_version((FIXTURES / "version" / f"{name}.json").read_text()))
