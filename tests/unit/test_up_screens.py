"""`up`'s screens from recorded outcomes, at 80 and at 160 columns: a failed start shows its
health check's cause in full, and the live view says which container is still starting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.console import Console

from dockermem.cli.progress import StartProgress
from dockermem.config import Settings
from dockermem.core.events import Event, EventType
from dockermem.core.judge import Judge, JudgeRules
from dockermem.core.lifecycle import ServiceOutcome, StartOutcome
from dockermem.core.snapshot import ContainerMemory
from dockermem.core.thresholds import ThresholdLevel
from dockermem.render.lifecycle import build_start_report, starting_states
from tests.builders import at, engine, host, reading, summary

MIB = 1024**2
AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
# Docker's own words for a health check whose command is not in the image: the cause is at the end.
CAUSE = (
    "OCI runtime exec failed: exec failed: unable to start container process: exec: "
    '"pg_isready": executable file not found in $PATH: unknown'
)


def render(renderable: object, width: int) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


def memory(usage_mib: float, limit_mib: int) -> ContainerMemory:
    usage = int(usage_mib * MIB)
    return ContainerMemory("db-id", "shop-db-1", "shop", "db", usage, limit_mib * MIB,
                           round(100 * usage / (limit_mib * MIB), 2), None, ThresholdLevel.SAFE)  # fmt: skip


@pytest.mark.parametrize("width", [80, 160])
def test_a_failed_start_shows_the_health_check_s_cause_in_full(width: int) -> None:
    db = ServiceOutcome("db", "shop-db-1", "db-id", "running", "unhealthy", CAUSE, None, memory(70.8, 256),
                        72 * MIB, 3)  # fmt: skip
    api = ServiceOutcome("api", "shop-api-1", "api-id", "running", "healthy", "ok", None, None, None, 3)
    outcome = StartOutcome("shop", False, None, 1, "container shop-db-1 is unhealthy", (api, db))
    text = render(build_start_report(outcome), width)
    assert max(len(line) for line in text.splitlines()) <= width
    flowing = " ".join(text.split())
    assert f"db: last health check: {CAUSE}" in flowing
    assert "api: last health check" not in flowing  # a healthy service's output is no cause


def test_the_live_view_s_states_come_from_the_events_the_latest_winning() -> None:
    def happened(kind: EventType, container: str) -> Event:
        return Event(kind, AT, "default", container, f"{container} {kind.value}")

    events = [
        happened(EventType.STARTED, "shop-db-1"),
        happened(EventType.STARTED, "shop-api-1"),
        happened(EventType.HEALTHY, "shop-db-1"),
        happened(EventType.WARNING, "shop-api-1"),  # says nothing of its state
    ]
    assert starting_states(events) == {"shop-db-1": "healthy", "shop-api-1": "starting"}


def test_a_stopped_container_shows_no_health() -> None:
    # Docker leaves a container that died with a health check `unhealthy`: it died of no check.
    hog = ServiceOutcome("hog", "shop-hog-1", "hog-id", "exited", "unhealthy", "", 137, None, 32 * MIB, 1)
    outcome = StartOutcome("shop", False, None, 1, "", (hog,))
    [row] = [line for line in render(build_start_report(outcome), 160).splitlines() if "hog" in line]
    assert row.split("│")[1:5] == [" hog     ", " exited ", " —      ", " 137  "], row


def test_a_frame_line_the_same_as_the_last_is_not_printed_again(capsys: pytest.CaptureFixture[str]) -> None:
    # The start's analysis reads a last frame, and the session's end another, as the tick before.
    judge, api = Judge(JudgeRules.from_settings(Settings())), summary("shop-api-1", "api")
    same, _ = judge.tick(at(0), 0, host(), [engine(reading(api, 60, 64))])
    other, _ = judge.tick(at(1), 1, host(), [engine(reading(api, 61, 64))])
    progress = StartProgress("shop", live=False)
    for frame in (same, same, other, same):
        progress.frame(frame)
    lines = capsys.readouterr().err.splitlines()
    shown = [line.split("| ")[-1] for line in lines]
    assert shown == ["api 60.0MiB/64.0MiB", "api 61.0MiB/64.0MiB", "api 60.0MiB/64.0MiB"], lines
