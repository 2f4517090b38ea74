"""Scaling against the real engine: `up --scale` chooses by the budget (just below and just above
a boundary), fails as the preflight fails when not even MIN fits; `up --autoscale` sheds the
newest replica at CRITICAL and adds one back after the calm period, never goes below MIN, and
does not flap under a sawtooth load; `fit` gives the arithmetic of the budget exactly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import datetime

import pytest

from tests.conftest import ReliabilityRecorder
from tests.integration.realdocker import (
    MIB,
    ComposeProject,
    cli_env,
    docker,
    dockermem,
    finish,
    memhog_service,
    wait_until,
)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

GIB = 1024**3
EVENT_LINE = re.compile(r"^(\d\d:\d\d:\d\d) scaled (\S+) (\d+) -> (\d+): (.*)$")


def env(max_gb: float, **extra: str) -> dict[str, str]:
    """A budget of exactly `max_gb` GiB: no safety margin, so the cap is the budget (the host
    has far more available than these caps)."""
    return cli_env(
        DOCKER_MAX_MEMORY_GB=repr(max_gb),
        DOCKERMEM_SAFETY_MARGIN_GB="0",
        DOCKERMEM_HISTORY="0",
        DOCKERMEM_SAMPLE_INTERVAL_SECONDS="0.5",
        COLUMNS="200",
        **extra,
    )


def replicas(stack: ComposeProject, service: str) -> list[str]:
    """The names of a service's running containers, in number order."""
    names = stack.compose("ps", "--format", "{{.Name}}", service).stdout.split()
    return sorted(names, key=lambda name: int(name.rsplit("-", 1)[1]))


def stack_with_db(stack: ComposeProject) -> None:
    """`db` (32 MiB limit, not scaled) and `w` (64 MiB limit per replica)."""
    stack.services = {
        "db": memhog_service(4, "32m", checked=False),
        "w": memhog_service(4, "64m", checked=False),
    }
    stack.write()


@pytest.mark.parametrize(
    ("max_gb", "expected"),
    [
        (0.3, 4),  # 307 MiB: 32 + 4 × 64 = 288 fits, 352 does not
        (288 / 1024, 4),  # exactly 32 + 4 × 64
        (288 / 1024 - 1e-6, 3),  # a kibibyte short of it
        (352 / 1024, 5),  # exactly 32 + 5 × 64
        (352 / 1024 - 1e-6, 4),
    ],
)
def test_scale_picks_the_largest_count_that_fits(
    project: ComposeProject, max_gb: float, expected: int
) -> None:
    stack_with_db(project)
    result = dockermem(
        "up", "-f", str(project.file), "-p", project.name, "--scale", "w=1..8", env=env(max_gb), timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(replicas(project, "w")) == expected
    assert len(replicas(project, "db")) == 1
    out = " ".join(result.stdout.split())
    assert f"w: {expected} replicas (range 1..8), 64.0MiB each (its limit)" in out
    assert f"a {expected + 1}th would need {32 + (expected + 1) * 64}MiB in all" in out


def test_not_even_min_fits_fails_as_the_preflight_fails(project: ComposeProject) -> None:
    stack_with_db(project)
    # 32 + 3 × 64 = 224 MiB; the budget is 200 MiB.
    result = dockermem(
        "up", "-f", str(project.file), "-p", project.name, "--scale", "w=3..8", env=env(200 / 1024)
    )
    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "Preflight FAIL" in out and "short by 24.0MiB" in out
    assert "Not even the minimum replicas fit" in out
    assert "not started" in out
    assert project.compose("ps", "-a", "-q").stdout.strip() == ""


def test_unknown_service_is_bad_usage_naming_the_value(project: ComposeProject) -> None:
    stack_with_db(project)
    result = dockermem("up", "-f", str(project.file), "-p", project.name, "--scale", "nope=1..2", env=env(1))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dockermem: --scale 'nope=1..2': no service 'nope' in the stack (services: db, w)"
    ]
    assert project.compose("ps", "-a", "-q").stdout.strip() == ""


def test_fit_matches_the_budget_arithmetic(project: ComposeProject) -> None:
    stack_with_db(project)
    budget = int(0.3 * GIB)
    result = dockermem("fit", "-f", str(project.file), "-p", project.name, "--per-worker", "48m", "--json",
                       env=env(0.3))  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    stack = (32 + 64) * MIB
    assert document == {
        "schema": 1,
        "workers": (budget - stack) // (48 * MIB),
        "per_worker_bytes": 48 * MIB,
        "per_worker_from": "given",
        "per_worker_recorded_runs": None,
        "available_bytes": budget - stack,
        "stack_bytes": stack,
        "budget_bytes": budget,
    }
    assert document["workers"] == 4
    text = dockermem(
        "fit", "-f", str(project.file), "-p", project.name, "--per-worker", "1.5GiB", env=env(0.3)
    )
    assert text.returncode == 1
    assert "0 workers fit" in text.stdout
    assert f"({budget} − {stack}) // {int(1.5 * GIB)} = 0" in text.stdout


def test_fit_beside_a_running_scaled_stack_counts_every_replica(project: ComposeProject) -> None:
    stack_with_db(project)
    up = dockermem(
        "up", "-f", str(project.file), "-p", project.name, "--scale", "w=3", env=env(1), timeout=300
    )
    assert up.returncode == 0, up.stdout + up.stderr
    result = dockermem("fit", "-f", str(project.file), "-p", project.name, "--per-worker", "100m", "--json",
                       env=env(0.5))  # fmt: skip
    document = json.loads(result.stdout)
    assert document["stack_bytes"] == (32 + 3 * 64) * MIB
    assert document["budget_bytes"] == GIB // 2  # the cap: what the stack uses is added back below it
    assert document["workers"] == (GIB // 2 - 224 * MIB) // (100 * MIB) == 2


def start_autoscaling(
    stack: ComposeProject, scale: str, duration: float, **settings: str
) -> subprocess.Popen[str]:
    stack.write()
    return subprocess.Popen(
        [sys.executable, "-m", "dockermem", "up", "-f", str(stack.file), "-p", stack.name,
         "--scale", scale, "--autoscale", "--duration", str(duration)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(1, **settings),
    )  # fmt: skip


def scaled_events(stdout: str) -> list[tuple[datetime, str, int, int, str]]:
    events = []
    for line in stdout.splitlines():
        match = EVENT_LINE.match(line)
        if match:
            stamp, service, before, after, reason = match.groups()
            events.append((datetime.strptime(stamp, "%H:%M:%S"), service, int(before), int(after), reason))
    return events


def test_autoscale_sheds_the_newest_replica_at_critical_and_adds_one_back_after_calm(
    project: ComposeProject,
) -> None:
    project.services = {"w": memhog_service(4, "64m", checked=False)}
    process = start_autoscaling(
        project,
        "w=1..3",
        30,
        DOCKERMEM_AUTOSCALE_CALM_SECONDS="4",
        DOCKERMEM_AUTOSCALE_MIN_INTERVAL_SECONDS="1",
    )
    try:
        wait_until(lambda: len(replicas(project, "w")) == 3, timeout=60, what="three replicas")
        time.sleep(2)  # the autoscaler has seen them SAFE; nothing to do at MAX
        newest = f"{project.name}-w-3"
        # One replica grows to about 52 MiB of its 64 MiB: CRITICAL for that service only.
        docker("exec", "-d", newest, "memhog", "48")
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out + err
    events = scaled_events(out)
    assert [(e[2], e[3]) for e in events] == [(3, 2), (2, 3)], out
    down, up = events
    assert re.match(
        rf"(CRITICAL|EMERGENCY): {newest} at \d+\.\d% of its limit \(removed {newest}\)$", down[4]
    )
    calm = re.match(r"SAFE for (\d+)s; ", up[4])  # at least the calm time (later on a busy machine)
    assert calm is not None and int(calm.group(1)) >= 4 and "needed of 1.00GiB budget" in up[4], up[4]
    assert (up[0] - down[0]).total_seconds() >= 4
    assert "Autoscaling ended after 30s: 2 changes; replicas now w 3" in " ".join(out.split())
    assert len(replicas(project, "w")) == 3


def test_autoscale_never_goes_below_min_and_keeps_the_older_replicas(project: ComposeProject) -> None:
    project.services = {"w": memhog_service(4, "64m", checked=False)}
    process = start_autoscaling(
        project,
        "w=2..3",
        15,
        DOCKERMEM_AUTOSCALE_CALM_SECONDS="60",
        DOCKERMEM_AUTOSCALE_MIN_INTERVAL_SECONDS="1",
    )
    try:
        wait_until(lambda: len(replicas(project, "w")) == 3, timeout=60, what="three replicas")
        oldest = f"{project.name}-w-1"
        docker("exec", "-d", oldest, "memhog", "48")  # the oldest stays CRITICAL throughout
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out + err
    events = scaled_events(out)
    assert [(e[2], e[3]) for e in events] == [(3, 2)], out
    assert events[0][4].endswith(f"(removed {project.name}-w-3)")
    assert replicas(project, "w") == [oldest, f"{project.name}-w-2"]


def test_no_flapping_under_a_sawtooth_load(project: ComposeProject, reliability: ReliabilityRecorder) -> None:
    saw = memhog_service(4, "64m", checked=False)
    # 50 MiB held for 2 s (78 % of the limit: CRITICAL), then released for 2 s (SAFE), forever
    # ($$: compose would otherwise interpolate $! and $p itself, to nothing).
    saw["command"] = ["sh", "-c", "while true; do memhog 50 & p=$$!; sleep 2; kill $$p; sleep 2; done"]
    project.services = {"saw": saw}
    window, interval = 40.0, 10.0
    # A calm period shorter than the SAFE half of the cycle: only the minimum interval holds it.
    process = start_autoscaling(
        project, "saw=1..4", window,
        DOCKERMEM_AUTOSCALE_CALM_SECONDS="1", DOCKERMEM_AUTOSCALE_MIN_INTERVAL_SECONDS=str(interval),
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out + err
    events = scaled_events(out)
    bound = int(window // interval) + 1
    gaps = [
        (later[0] - earlier[0]).total_seconds() for earlier, later in zip(events, events[1:], strict=False)
    ]
    reliability(
        "scaling", f"sawtooth 2 s CRITICAL / 2 s SAFE for {window:g} s, min interval {interval:g} s, calm 1s",
        f"at least one change, at most {bound}, none closer than the interval",
        f"{len(events)} changes, gaps {gaps}",
    )  # fmt: skip
    assert events and len(events) <= bound, out
    # Without the interval this load changes every 3 s (each compose call's length), down at
    # CRITICAL and up after the calm second at SAFE (measured by hand). Lines carry whole seconds: two changes
    # 10 s apart can print 9 s apart, never less.
    assert all(gap >= interval - 1 for gap in gaps), (gaps, out)
    assert all(1 <= e[3] <= 4 for e in events)


def test_watch_autoscale_prints_scaled_events_as_json(project: ComposeProject) -> None:
    project.services = {"w": memhog_service(4, "64m", checked=False)}
    project.write()
    project.compose("up", "-d", "--wait", "--scale", "w=3")
    settings = {"DOCKERMEM_AUTOSCALE_CALM_SECONDS": "3", "DOCKERMEM_AUTOSCALE_MIN_INTERVAL_SECONDS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "dockermem", "watch", "-f", str(project.file), "-p", project.name,
         "--scale", "w=1..3", "--autoscale", "--duration", "20", "--json", "--interval", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(0.3, **settings),
    )  # fmt: skip
    try:
        time.sleep(4)
        docker("exec", "-d", f"{project.name}-w-3", "memhog", "48")
        out, err = finish(process, 120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out + err
    scaled = [doc for doc in map(json.loads, out.splitlines()) if doc["type"] == "scaled"]
    assert [(doc["service"], doc["from"], doc["to"]) for doc in scaled] == [("w", 3, 2), ("w", 2, 3)], out
    assert scaled[0]["removed"] == f"{project.name}-w-3"
    assert scaled[0]["reason"].startswith(("CRITICAL: ", "EMERGENCY: "))
    assert scaled[1]["reason"].startswith("SAFE for 3s;")
    assert len(replicas(project, "w")) == 3
