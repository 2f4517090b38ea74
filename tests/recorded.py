"""Reading recorded docker outputs whole, as the tests compare them (dockermem itself reads
`docker stats` line by line from a stream)."""

from __future__ import annotations

import json

from dockermem.clock import ManualClock
from dockermem.core.events import Event, EventType, Frame, WatchedContainer
from dockermem.core.history import HistoryStore
from dockermem.core.host import HostMemory
from dockermem.core.thresholds import ThresholdLevel
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


def record_history(
    store: HistoryStore, fixture: str, project: str, clock: ManualClock, with_leaks: bool = True
) -> None:
    """Replay a recorded `watch` run (`tests/fixtures/history/<fixture>.jsonl`: its samples and
    the leaks watch called, at seconds from the run's start) into `store` as one run under
    `project`, the clock moved to each row's time and left at the run's end."""
    rows = [json.loads(line) for line in (FIXTURES / "history" / f"{fixture}.jsonl").read_text().splitlines()]
    run = store.start_run("watch", project)
    elapsed = 0.0
    for row in sorted(rows, key=lambda row: row["seconds"]):
        clock.advance(row["seconds"] - elapsed)
        elapsed = row["seconds"]
        if row["type"] == "leak":
            if with_leaks:
                details = {"mib_per_minute": row["mib_per_minute"]}
                leak = Event(EventType.LEAK, clock.now(), "local", row["container"], "leak", None, project,
                             row["service"], details)  # fmt: skip
                store.record_leak(run, leak, project)
            continue
        container = WatchedContainer(
            id=row["container"], name=row["container"], project=project, service=row["service"],
            memory_usage_bytes=row["memory_usage_bytes"], memory_limit_bytes=row["memory_limit_bytes"],
            memory_percent=None, cpu_percent=None, level=ThresholdLevel.SAFE, engine="local",
            trend_mib_per_minute=None, seconds_to_limit=None, leaking=False,
            recent_usage=(row["memory_usage_bytes"],), peak_bytes=row["memory_usage_bytes"],
            oom_kills=row["oom_kills"],
        )  # fmt: skip
        host = HostMemory(8 * 1024**3, 1024**3, 7 * 1024**3, 12.5, 1.0)
        store.record_frame(run, Frame(clock.now(), elapsed, host, ThresholdLevel.SAFE, (), (container,)))
    store.end_run(run)
