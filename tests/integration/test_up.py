"""`up` against the real engine: a healthy start, OOM kills (of the container and of a process
inside one), a start that times out, a preflight that fails, and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.realdocker import ComposeProject, dockermem, memhog_service, unique_name
from tests.processes import descendants, still_running

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]


def env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DOCKER_MAX_CONTAINERS": "100000",
        "DOCKER_MAX_NETWORKS": "100000",
        "DOCKER_MAX_VOLUMES": "100000",
        "COLUMNS": "160",
        "DOCKERMEM_SAMPLE_INTERVAL_SECONDS": "0.5",
        **extra,
    }


@pytest.fixture
def project(tmp_path: Path) -> Iterator[ComposeProject]:
    stack = ComposeProject(unique_name("dmup"), tmp_path / "compose.yaml")
    try:
        yield stack
    finally:
        stack.down()


def up(stack: ComposeProject, *args: str) -> subprocess.CompletedProcess[str]:
    stack.write()
    return dockermem("up", "-f", str(stack.file), "-p", stack.name, *args, env=env(), timeout=300)


def test_healthy_stack_starts_and_prints_the_final_report(project: ComposeProject) -> None:
    project.services = {"api": memhog_service(30, "128m"), "worker": memhog_service(10, "64m")}
    result = up(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every service is healthy" in result.stdout
    api_row = next(line for line in result.stdout.splitlines() if f"{project.name}-api-1" in line)
    assert "/ 128MiB" in api_row
    assert project.compose("ps", "--format", "{{.Health}}").stdout.split() == ["healthy", "healthy"]


def test_container_oom_killed_during_start_is_named(project: ComposeProject) -> None:
    hog = memhog_service(100, "32m")
    hog["memswap_limit"] = "32m"
    hog["restart"] = "no"
    project.services = {"hog": hog, "calm": memhog_service(4, "64m")}
    result = up(project, "--wait-timeout", "30")
    assert result.returncode == 1, result.stdout + result.stderr
    out = " ".join(result.stdout.split())
    assert "Memory was the cause: hog was OOM-killed" in out
    assert "did not start" in out
    hog_row = next(line for line in result.stdout.splitlines() if line.strip("│ ").startswith("hog"))
    assert "exited" in hog_row and "137" in hog_row


def test_process_oom_killed_inside_a_living_container_is_reported(project: ComposeProject) -> None:
    service = memhog_service(4, "64m")
    service["memswap_limit"] = "64m"
    service["command"] = ["sh", "-c", "memhog 200 & exec memhog 4"]
    project.services = {"worker": service}
    result = up(project, "--wait-timeout", "30")
    out = " ".join(result.stdout.split())
    assert "a process in worker was OOM-killed" in out, result.stdout + result.stderr
    assert result.returncode == 1
    # The container itself lives on and is healthy.
    assert project.compose("ps", "--format", "{{.State}}").stdout.split() == ["running"]


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
    assert "can't open '/tmp/never-there'" in sick_row or "never-there" in sick_row
    assert "Memory does not look like the cause" in out
    assert "brought down" in out
    assert project.compose("ps", "-a", "-q").stdout.strip() == ""


def test_preflight_failure_starts_nothing() -> None:
    result = dockermem(
        "up", "-f", str(REPO / "compose/test/huge.yaml"), "-p", unique_name("dmhuge"), env=env()
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
        env=env(),
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
