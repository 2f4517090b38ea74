"""Reading recorded docker outputs whole, as the tests compare them (dockermem itself reads
`docker stats` line by line from a stream)."""

from __future__ import annotations

from dockermem.docker.models import ContainerStats
from dockermem.docker.parse import parse_stats_line, strip_escape_codes


def stats_lines(text: str) -> list[ContainerStats]:
    """Every container line of a recorded `docker stats` output (escape codes stripped)."""
    return [parse_stats_line(line) for raw in text.splitlines() if (line := strip_escape_codes(raw).strip())]
