"""`up` against the real engine: a healthy start, OOM kills (of the container and of a process
inside one), a start that times out, a preflight that fails, and Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from dockermem.docker.parse import parse_docker_time
from tests.conftest import REPO, ReliabilityRecorder
from tests.integration.realdocker import (
    MEMHOG_IMAGE,
    PODMAN,
    ComposeProject,
    PipeLines,
    chained_services,
    cli_env,
    dockermem,
    finish,
    inspect,
    memhog_service,
    unique_name,
)
from tests.processes import descendants, still_running

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]
# A sample every half second, and a wide terminal for the reports read below.
UP_SETTINGS = {"COLUMNS": "160", "DOCKERMEM_SAMPLE_INTERVAL_SECONDS": "0.5"}


def up(stack: ComposeProject, *args: str) -> subprocess.CompletedProcess[str]:
    stack.write()
    return dockermem(
        "up", "-f", str(stack.file), "-p", stack.name, *args, env=stack.engine.env(**UP_SETTINGS), timeout=300
    )


def test_healthy_stack_starts_and_prints_the_final_report(project: ComposeProject) -> None:
    project.services = {"api": memhog_service(30, "128m"), "worker": memhog_service(10, "64m")}
    result = up(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every service is healthy" in result.stdout
    # The progress (plain lines on stderr when it is not a terminal) follows each service.
    for line in ("api started", "api healthy", "worker started", "worker healthy"):
        assert line in result.stderr, result.stderr
    api_row = next(line for line in result.stdout.splitlines() if f"{project.name}-api-1" in line)
    assert "/ 128MiB" in api_row
    assert project.compose("ps", "--format", "{{.Health}}").stdout.split() == ["healthy", "healthy"]


READY_BY_EVENTS = "seen in the engine's events"


def test_up_ends_compose_wait_when_the_events_show_the_stack_ready(project: ComposeProject) -> None:
    # Compose looks every 500 ms; with 1 s health checks its next look comes some 0.4 s after
    # the last `health_status: healthy` event, and dockermem's look takes some 30 ms. Should
    # compose still look first (a busy machine), its verdict is as good: up is tried again.
    project.services = {"api": memhog_service(20, "64m"), "worker": memhog_service(10, "64m")}
    outputs = []
    for _attempt in range(3):
        result = up(project)
        assert result.returncode == 0, result.stdout + result.stderr
        # Compose's wait was ended with SIGINT or compose returned: the containers run on.
        assert project.compose("ps", "--format", "{{.Health}}").stdout.split() == ["healthy", "healthy"]
        outputs.append(result.stdout)
        if READY_BY_EVENTS in result.stdout:
            break
        project.down()
    assert READY_BY_EVENTS in outputs[-1], outputs


def test_without_ready_on_events_compose_decides(project: ComposeProject) -> None:
    project.services = {"api": memhog_service(20, "64m")}
    project.write()
    result = dockermem(
        "up", "-f", str(project.file), "-p", project.name,
        env=cli_env(**UP_SETTINGS, DOCKERMEM_READY_ON_EVENTS="0"), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every service is healthy" in result.stdout
    assert READY_BY_EVENTS not in result.stdout


def test_a_service_started_after_its_dependency_is_healthy_is_waited_for(project: ComposeProject) -> None:
    # `app` has no health check: it is ready once running, but compose starts it only after
    # `db` is healthy. When db's event comes, app's container exists but was never started.
    app = memhog_service(10, "64m", checked=False)
    app["depends_on"] = {"db": {"condition": "service_healthy"}}
    project.services = {"db": memhog_service(10, "64m"), "app": app}
    result = up(project)
    assert result.returncode == 0, result.stdout + result.stderr
    db, app_state = inspect(project.container_id("db")), inspect(project.container_id("app"))
    assert app_state["State"]["Running"] is True  # type: ignore[index]
    db_healthy_at = parse_docker_time(db["State"]["Health"]["Log"][0]["End"])  # type: ignore[index]
    app_started_at = parse_docker_time(app_state["State"]["StartedAt"])  # type: ignore[index]
    assert db_healthy_at is not None and app_started_at is not None
    assert app_started_at > db_healthy_at


def test_services_compose_recreates_are_recreated_before_up_returns(project: ComposeProject) -> None:
    # The running stack is changed: compose recreates both containers, starts the new db and,
    # once it is healthy, the new app. Up must not end compose's wait before app runs anew.
    def stack(generation: str) -> dict[str, dict[str, object]]:
        db, app = memhog_service(10, "64m"), memhog_service(10, "64m")
        db["environment"] = app["environment"] = {"DOCKERMEM_TEST_GENERATION": generation}
        app["depends_on"] = {"db": {"condition": "service_healthy"}}
        return {"db": db, "app": app}

    project.services = stack("1")
    project.up()
    old = {service: project.container_id(service) for service in project.services}
    project.services = stack("2")
    result = up(project)
    assert result.returncode == 0, result.stdout + result.stderr
    for service, old_id in old.items():
        new_id = project.container_id(service)
        assert new_id != old_id, f"{service} was not recreated"
        assert "DOCKERMEM_TEST_GENERATION=2" in inspect(new_id)["Config"]["Env"]  # type: ignore[index]
    assert project.compose("ps", "--format", "{{.Health}}").stdout.split() == ["healthy", "healthy"]


def test_containers_running_before_up_leave_the_verdict_to_compose(project: ComposeProject) -> None:
    # `api` runs from an earlier start; `worker` is added. dockermem judges only containers it
    # saw created and started during this `up` (compose may yet recreate an older one).
    project.services = {"api": memhog_service(10, "64m")}
    project.up()
    project.services["worker"] = memhog_service(10, "64m")
    result = up(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every service is healthy" in result.stdout
    assert READY_BY_EVENTS not in result.stdout
    assert project.compose("ps", "--format", "{{.Health}}").stdout.split() == ["healthy", "healthy"]


def test_a_one_shot_service_waited_for_by_completion_counts_as_done(project: ComposeProject) -> None:
    migrate: dict[str, object] = {"image": MEMHOG_IMAGE, "command": ["true"], "network_mode": "none"}
    app = memhog_service(10, "64m")
    app["depends_on"] = {"migrate": {"condition": "service_completed_successfully"}}
    project.services = {"migrate": migrate, "app": app}
    result = up(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every service is healthy" in result.stdout
    assert inspect(project.container_id("app"))["State"]["Running"] is True  # type: ignore[index]


# On every engine of the matrix (Podman sends no oom event and leaves OOMKilled false: the
# kernel's log and the cgroup's counter see its kills; its health checks never run here).


def with_hog(
    project: ComposeProject, *, checked: bool, command: list[str] | None = None
) -> dict[str, object]:
    """The stack of the OOM tests: `hog` (`memhog 100`, or `command`, in 32 MiB and no swap, not
    restarted) beside `calm`; gives hog's service to add to."""
    hog = memhog_service(100, "32m", checked=checked)
    if command is not None:
        hog["command"] = command
    hog["memswap_limit"] = "32m"
    hog["restart"] = "no"
    project.services = {"hog": hog, "calm": memhog_service(4, "64m", checked=checked)}
    return hog


def hog_row(stdout: str) -> str:
    """hog's row of the services table."""
    return next(line for line in stdout.splitlines() if line.strip("│ ").startswith("hog"))


def test_container_oom_killed_during_start_is_named(
    engine_project: ComposeProject, reliability: ReliabilityRecorder
) -> None:
    with_hog(engine_project, checked=engine_project.engine.runs_health_checks)
    result = up(engine_project, "--wait-timeout", "30")
    out = " ".join(result.stdout.split())
    reliability(
        "engines",
        f"{engine_project.engine.name}: `up` of a stack whose service is OOM-killed (PID 1) at its start",
        "exit 1, the kill named with its process", f"exit {result.returncode}: {verdict_line(out)}",
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Memory was the cause: hog was OOM-killed" in out
    assert ": process memhog (pid " in out and "of its 32.0MiB limit" in out
    assert "did not start" in out
    assert "exited" in hog_row(result.stdout) and "137" in hog_row(result.stdout)
    # No sample ever read hog: the kernel's account of its cgroup at the kill sizes it.
    report = dockermem("report", "--json", "-p", engine_project.name, env=engine_project.engine.env())
    [advice] = [s["advice"] for s in json.loads(report.stdout)["services"] if s["service"] == "hog"]
    assert advice == {"kind": "raise", "text": "OOM-killed 1× at 32.0MiB: raise to 48.0MiB"}, report.stdout


def test_a_container_that_exits_0_after_a_childs_kill_lost_a_process_not_its_life(
    engine_project: ComposeProject, reliability: ReliabilityRecorder
) -> None:
    # memhog, a child of sh, is OOM-killed; sh goes on and exits 0. Docker sets OOMKilled on
    # the stopped container all the same (20.10 as it stops, 26 at the kill).
    with_hog(engine_project, checked=False, command=["sh", "-c", "memhog 100; exit 0"])
    result = up(engine_project, "--wait-timeout", "30")
    out = " ".join(result.stdout.split())
    reliability(
        "engines",
        f"{engine_project.engine.name}: `up` of a stack whose service's child is OOM-killed, the service "
        "exiting 0 after it",
        "exit 1, a process's kill (not the container's)", f"exit {result.returncode}: {verdict_line(out)}",
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Memory was the cause: a process in hog was OOM-killed" in out
    assert "hog was OOM-killed" not in out.replace("a process in hog was OOM-killed", "")
    assert "exited" in hog_row(result.stdout) and " 0 " in hog_row(result.stdout)


@pytest.mark.parametrize("engine", [PODMAN], ids=[PODMAN.name], indirect=True)
def test_a_death_the_engine_tells_of_late_is_still_the_kills(
    engine_project: ComposeProject, reliability: ReliabilityRecorder
) -> None:
    # Podman's daemon held still from before `hog`'s kill until 8 s after it, as on a busy
    # machine: the kernel's record of the kill is read at once, podman's `die` comes 8 s later
    # (with the time of the death), and neither an `oom` event nor `OOMKilled` says more.
    engine = engine_project.engine
    signal = engine_project.file.parent / "signal"
    signal.mkdir()
    # PID 1 is killed once the test says go (with the daemon held still).
    go_then_hog = ["sh", "-c", "until [ -e /signal/go ]; do sleep 0.1; done; exec memhog 100"]
    with_hog(engine_project, checked=False, command=go_then_hog)["volumes"] = [f"{signal}:/signal"]
    engine_project.write()
    process = subprocess.Popen(
        [sys.executable, "-m", "dockermem", "up", "-f", str(engine_project.file), "-p", engine_project.name,
         "--wait-timeout", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=engine.env(**UP_SETTINGS),
    )  # fmt: skip
    progress = PipeLines(process.stderr)
    try:
        progress.until("hog started")
        with engine.paused_daemon():
            (signal / "go").touch()
            killed_at = progress_seconds(progress.until("OOM kill in ", timeout=20))
            time.sleep(8)
        exited_at = progress_seconds(progress.until("hog exited with code 137"))
    finally:
        out, _ = finish(process, 120, stderr=progress)
    out = " ".join(out.split())
    reliability(
        "engines",
        f"{engine.name}: `up` of a stack whose service is OOM-killed, its daemon held still until 8 s "
        "after the kill",
        "exit 1, the container's kill named", f"exit {process.returncode}: {verdict_line(out)}",
    )  # fmt: skip
    assert exited_at - killed_at > 5, progress.text  # the death was told late
    assert "Memory was the cause: hog was OOM-killed" in out, out
    assert process.returncode == 1


def progress_seconds(line: str) -> float:
    """`[   9.1s] hog exited with code 137`: 9.1."""
    return float(line.split("]", 1)[0].strip("[ s"))


def test_process_oom_killed_inside_a_living_container_is_reported(
    engine_project: ComposeProject, reliability: ReliabilityRecorder
) -> None:
    service = memhog_service(4, "64m", checked=engine_project.engine.runs_health_checks)
    service["memswap_limit"] = "64m"
    service["command"] = ["sh", "-c", "memhog 200 & exec memhog 4"]
    engine_project.services = {"worker": service}
    result = up(engine_project, "--wait-timeout", "30")
    out = " ".join(result.stdout.split())
    reliability(
        "engines",
        f"{engine_project.engine.name}: `up` of a stack whose worker process is OOM-killed in a living "
        "container",
        "exit 1, the kill named", f"exit {result.returncode}: {verdict_line(out)}",
    )  # fmt: skip
    assert "a process in worker was OOM-killed" in out, result.stdout + result.stderr
    assert ": process memhog (pid " in out and "of its 64.0MiB limit; also held: memhog" in out
    assert result.returncode == 1
    # The container itself lives on.
    assert engine_project.compose("ps", "--format", "{{.State}}").stdout.split() == ["running"]


def verdict_line(out: str) -> str:
    """The analysis's verdict on memory, as a reliability row shows it."""
    starts = [at for at in (out.find("Memory was"), out.find("Memory does not")) if at >= 0]
    return out[min(starts) :].split(". ")[0] if starts else out[-200:]


def test_never_healthy_service_times_out_with_the_analysis(project: ComposeProject) -> None:
    project.services = {"sick": memhog_service(4, "32m", healthy=False), "fine": memhog_service(4, "32m")}
    project.services["sick"]["healthcheck"] = {
        "test": ["CMD", "cat", "/tmp/never-there"],
        "interval": "1s",
        "retries": 2,
    }
    result = up(project, "--wait-timeout", "8", "--down-on-failure")
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    sick_row = next(line for line in result.stdout.splitlines() if line.strip("│ ").startswith("sick"))
    assert "unhealthy" in sick_row
    assert "sick: last health check: cat: can't open '/tmp/never-there'" in out  # in full, below the table
    assert "Memory does not look like the cause" in out
    assert "brought down" in out
    assert project.compose("ps", "-a", "-q").stdout.strip() == ""


def test_up_of_named_services_preflights_and_starts_them_with_their_dependencies(
    project: ComposeProject,
) -> None:
    # web 128m + db 64m + cache 32m: `big` (512m) is neither counted nor started.
    project.services = chained_services()
    result = up(project, "web")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "preflight PASS: needs 224MiB" in result.stderr + result.stdout
    started = project.compose("ps", "--all", "--format", "{{.Service}}").stdout.split()
    assert sorted(started) == ["cache", "db", "web"]


def test_preflight_failure_starts_nothing() -> None:
    result = dockermem(
        "up",
        "-f",
        str(REPO / "compose/test/huge.yaml"),
        "-p",
        unique_name("dmhuge"),
        env=cli_env(**UP_SETTINGS),
    )
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "short by" in " ".join(result.stdout.split())
    assert "not started" in result.stdout


def test_ctrl_c_stops_cleanly_and_leaves_no_docker_process(project: ComposeProject) -> None:
    project.services = {"slow": memhog_service(4, "32m", healthy=False)}
    project.write()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dockermem",
            "up",
            "-f",
            str(project.file),
            "-p",
            project.name,
            "--wait-timeout",
            "120",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(**UP_SETTINGS),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not descendants(process.pid, "compose"):
            time.sleep(0.2)
        seen = descendants(process.pid)
        assert seen, "compose up never started"
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, out + err
    assert "Interrupted" in out
    assert "Traceback" not in err
    assert still_running(seen) == []
