"""`watch --json` against the real engine: leaks with their rate, one warning per crossing,
silent OOM kills, containers coming and going."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dockermem.docker.parse import parse_docker_time
from tests.conftest import ReliabilityRecorder
from tests.integration.realdocker import (
    DEFAULT_ENGINE,
    DOCKER_26,
    MIB,
    ComposeProject,
    Engine,
    finish,
    memhog_service,
    watching,
)
from tests.schemas import dockermem_args, json_output

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]


def watch_lines(
    project: str, duration: float, interval: float = 0.5, engine: Engine = DEFAULT_ENGINE, **extra: str
) -> tuple[int, list[dict[str, Any]]]:
    result = subprocess.run(
        [sys.executable, "-m", "dockermem", "watch", "--json", "-p", project,
         "--duration", str(duration), "--interval", str(interval)],
        capture_output=True, text=True, env=engine.env(**extra), timeout=duration + 60,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json_output(dockermem_args(result.args), result.stdout)


def of_type(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["type"] == kind]


def test_steady_growth_is_flagged_with_its_rate_and_a_prediction(
    engine_project: ComposeProject, reliability: ReliabilityRecorder
) -> None:
    # 5 MiB/s from 20 MiB into 512 MiB: the limit is ~100 s away, so it is flagged at once.
    engine_project.services = {"leaky": memhog_service(20, "512m", grow=5, checked=False)}
    engine_project.up()
    code, lines = watch_lines(engine_project.name, 8, engine=engine_project.engine)
    leaks = of_type(lines, "leak")
    reliability(
        "engines", f"{engine_project.engine.name}: `watch --json` of a container growing 5 MiB/s",
        "one leak event, ~300 MiB/min, the limit predicted within 2 minutes",
        "; ".join(leak["message"] for leak in leaks) or "no leak event",
    )  # fmt: skip
    assert len(leaks) == 1, leaks
    leak = leaks[0]
    assert leak["mib_per_minute"] == pytest.approx(300, rel=0.20)
    assert 0 < leak["seconds_to_limit"] < 120
    assert "leaky: +" in leak["message"] and "limit in ~" in leak["message"]
    samples = of_type(lines, "sample")
    assert len(samples) >= 10
    last = samples[-1]["containers"][0]
    assert last["leaking"] is True and last["seconds_to_limit"] is not None
    assert code == 0


def test_slow_steady_growth_is_flagged_once_it_held_for_the_span(project: ComposeProject) -> None:
    project.services = {"slow": memhog_service(20, "1g", grow=0.5, checked=False)}  # 30 MiB/min
    project.up()
    code, lines = watch_lines(project.name, 12, DOCKERMEM_LEAK_MIN_SPAN_SECONDS="6")
    leaks = of_type(lines, "leak")
    assert len(leaks) == 1, [s["containers"] for s in of_type(lines, "sample")][-3:]
    assert leaks[0]["mib_per_minute"] == pytest.approx(30, rel=0.20)


def test_a_sawtooth_leak_is_taken_back_at_its_first_drop_and_not_raised_again(
    project: ComposeProject,
) -> None:
    # 40 MiB over 8 s, given back, again (a batch job, or a collector): a fast fill is flagged
    # early, then the first drop takes it back, and the cycles after it raise nothing.
    service = memhog_service(4, "128m", checked=False)
    loop = "while true; do memhog 0 5 40 & hog=$$!; sleep 8; kill $$hog; wait $$hog; done"  # $$: compose
    service["command"] = ["sh", "-c", loop]
    project.services = {"batch": service}
    project.up()
    code, lines = watch_lines(project.name, 26)
    alarms = [line for line in lines if line["type"] in ("leak", "leak-cleared")]
    assert [line["type"] for line in alarms] == ["leak", "leak-cleared"], alarms
    raised, cleared = alarms
    assert "samples)" in raised["message"]  # what it rests on
    usage = [round(s["containers"][0]["memory_usage_bytes"] / MIB, 1) for s in of_type(lines, "sample")]
    assert cleared["reason"] == "fell" and cleared["fell_bytes"] >= 20 * MIB, (alarms, usage)
    assert code == 0


def test_memory_holding_still_is_not_a_leak(project: ComposeProject) -> None:
    project.services = {"still": memhog_service(40, "128m", checked=False)}
    project.up()
    project.wait_ready()
    _, lines = watch_lines(project.name, 6, DOCKERMEM_LEAK_MIN_SPAN_SECONDS="2")
    assert of_type(lines, "leak") == []


def test_crossing_eighty_percent_gives_exactly_one_warning(project: ComposeProject) -> None:
    # 90 MiB growing 4 MiB/s to 110 MiB in a 128 MiB limit: crosses 80 % once and stays above.
    service = memhog_service(90, "128m", checked=False)
    service["command"] = ["memhog", "90", "4", "110"]
    project.services = {"climber": service}
    project.up()
    code, lines = watch_lines(project.name, 10)
    warnings = of_type(lines, "warning")
    assert len(warnings) == 1, warnings
    assert warnings[0]["container"] == f"{project.name}-climber-1"
    assert warnings[0]["memory_usage_bytes"] >= 0.8 * 128 * 1024 * 1024
    assert of_type(lines, "recovered") == []
    assert code == 0  # CRITICAL, never EMERGENCY, no OOM


def start_host(project: ComposeProject, script: str | None = None) -> Path:
    """`host`: 4 MiB held in 64 MiB and no swap, where a child of 200 MiB is OOM-killed (by
    `script`, a shell's, or a `docker exec` of the test's). The folder it gives is the
    container's /signal, where the test leaves files for `script` to wait for."""
    signal = project.file.parent / "signal"
    signal.mkdir(exist_ok=True)
    service = memhog_service(4, "64m", checked=False)
    service["memswap_limit"] = "64m"
    service["volumes"] = [f"{signal}:/signal"]
    if script is not None:
        service["command"] = ["sh", "-c", script]
    project.services = {"host": service}
    project.up()
    project.wait_ready()
    return signal


def test_silent_oom_kill_appears_once_and_fails_the_watch(
    engine_project: ComposeProject, reliability: ReliabilityRecorder
) -> None:
    project = engine_project
    start_host(project)
    container = project.container_id("host")
    # A kill before the watch starts: in the kernel's log and the cgroup's counter, but not news.
    project.engine.docker("exec", container, "memhog", "200", check=False)
    watcher, output = watching(project, 8)
    output.until('"type": "sample"')  # watching
    project.engine.docker("exec", container, "memhog", "200", check=False)  # the child is OOM-killed
    out, err = finish(watcher, 60, output)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    ooms = of_type(lines, "oom")
    reliability(
        "engines", f"{project.engine.name}: `watch --json` while a process in a container is OOM-killed",
        "one oom event, exit 1, the container still running",
        f"exit {watcher.returncode}: " + "; ".join(f"{o['message']} (seen by {o['seen_by']})" for o in ooms),
    )  # fmt: skip
    assert len(ooms) == 1, ooms
    assert ooms[0]["container"] == f"{project.name}-host-1"
    # The kernel's log names the process: memhog, holding what the 64 MiB left it beside PID 1's
    # 4 MiB (it allocates 1 MiB at a time), and PID 1 among what else the container held.
    process = ooms[0]["process"]
    assert process["name"] == "memhog" and 0.9 * 58 * MIB <= process["rss_bytes"] <= 64 * MIB, process
    assert "memhog" in [task["name"] for task in ooms[0]["top_processes"]]
    assert ooms[0]["constraint"] == "cgroup" and ooms[0]["cgroup_limit_bytes"] == 64 * MIB
    assert project.compose("ps", "--format", "{{.State}}").stdout.split() == ["running"]
    assert watcher.returncode == 1
    summary = of_type(lines, "summary")[0]
    assert summary["oom_seen"] is True


@pytest.mark.parametrize("engine", [DOCKER_26], ids=[DOCKER_26.name], indirect=True)
@pytest.mark.parametrize("kernel_log", ["/dev/kmsg", "0"], ids=["kernel-log", "counter-alone"])
def test_an_oom_event_told_late_is_of_the_kill_already_counted(
    engine_project: ComposeProject, reliability: ReliabilityRecorder, kernel_log: str
) -> None:
    # dockerd held still from just before a child's kill until 8 s after it, as on a busy
    # machine: the cgroup's counter (and the kernel's log, where it is read) tell of the kill
    # at once, docker's `oom` event 8 s later (timed when dockerd sent it). One kill, counted
    # once: the container's counter, read when the event comes, shows no other.
    project = engine_project
    signal = start_host(
        project, "memhog 4 & until [ -e /signal/go ]; do sleep 0.1; done; memhog 200; sleep 1000"
    )
    watcher, output = watching(project, 20, DOCKERMEM_KERNEL_LOG=kernel_log)
    output.until('"type": "sample"')  # watching
    with project.engine.paused_daemon():
        (signal / "go").touch()  # the child is OOM-killed
        told = json.loads(output.until('"type": "oom"', timeout=20))
        time.sleep(8)
    out, _ = finish(watcher, 60, output)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    ooms = of_type(lines, "oom")
    told_at = parse_docker_time(told["ts"])
    assert told_at is not None
    since = told_at - timedelta(seconds=30)
    docker_said = project.engine.docker(
        "events", "--since", since.isoformat(), "--until", "0s", "--format", "{{.TimeNano}}",
        "--filter", f"container={project.name}-host-1", "--filter", "event=oom",
    ).stdout.split()  # fmt: skip
    reliability(
        "engines",
        f"{project.engine.name}: `watch --json` while a child is OOM-killed, dockerd held still until 8 s "
        f"after the kill (kernel log: {kernel_log})",
        "one oom event", f"{len(ooms)} oom events: " + "; ".join(f"seen by {o['seen_by']}" for o in ooms),
    )  # fmt: skip
    [event_ns] = docker_said
    assert int(event_ns) / 1e9 - told_at.timestamp() > 5  # docker told it late
    assert len(ooms) == 1, ooms
    assert ooms[0]["seen_by"] == ("kernel log" if kernel_log != "0" else "cgroup")
    assert watcher.returncode == 1


def test_containers_started_and_gone_are_reported(project: ComposeProject) -> None:
    project.services = {"first": memhog_service(4, "32m", checked=False)}
    project.up()
    watcher, output = watching(project, 9)
    output.until('"type": "sample"')  # watching
    project.services["second"] = memhog_service(4, "32m", checked=False)
    project.up("second")
    output.until('"type": "started"')
    project.compose("rm", "--stop", "--force", "first")
    out, _ = finish(watcher, 60, output)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    started = [line["container"] for line in of_type(lines, "started")]
    gone = [line["container"] for line in of_type(lines, "gone")]
    assert f"{project.name}-second-1" in started
    assert gone == [f"{project.name}-first-1"]
    final = of_type(lines, "sample")[-1]
    assert [c["service"] for c in final["containers"]] == ["second"]


def test_watch_fed_by_docker_stats_when_the_fast_path_is_off(project: ComposeProject) -> None:
    project.services = {"held": memhog_service(48, "128m", checked=False)}
    project.up()
    project.wait_ready()
    code, lines = watch_lines(project.name, 6, DOCKERMEM_FAST_PATH="0")
    samples = of_type(lines, "sample")
    assert samples[-1]["engines"][0]["source"] == "docker-stats"
    held = samples[-1]["containers"][0]
    assert abs(held["memory_usage_bytes"] - 48 * 1024 * 1024) <= 0.10 * 48 * 1024 * 1024
    assert held["memory_limit_bytes"] == 128 * 1024 * 1024
    assert code == 0
