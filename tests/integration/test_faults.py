"""Faults on the real engine: the daemon down or missing, a docker call that never answers,
containers that go away or are OOM-killed during a watch, daemons restarted during `up`, and
SIGINT/SIGTERM. Nothing may hang, leave a process behind, or print a traceback."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, ReliabilityRecorder
from tests.integration.daemons import SecondDaemon
from tests.integration.realdocker import (
    ComposeProject,
    PipeLines,
    cli_env,
    dockermem,
    finish,
    memhog_service,
    unique_name,
)
from tests.processes import descendants, running_with, still_running

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

FITS = str(REPO / "compose/test/fits.yaml")
EVERY_COMMAND = {
    "health": ["health"],
    "stats": ["stats", "--json"],
    "preflight": ["preflight", "-f", FITS],
    "up": ["up", "-f", FITS, "-p", "dmfault-never"],
    "cleanup": ["cleanup", "-p", "dmfault-never", "--yes"],
    "watch": ["watch", "--duration", "2"],
}


@pytest.mark.parametrize("command", sorted(EVERY_COMMAND))
def test_daemon_down_gives_exit_69_and_one_line(command: str, reliability: ReliabilityRecorder) -> None:
    result = dockermem(
        *EVERY_COMMAND[command], env=cli_env(DOCKER_HOST="unix:///nonexistent/docker.sock"), timeout=60
    )
    lines = result.stderr.strip().splitlines()
    reliability(
        "faults", f"`dockermem {command}` with DOCKER_HOST on a socket that does not exist",
        "exit 69, one line naming the socket", f"exit {result.returncode}, {len(lines)} line(s)",
    )  # fmt: skip
    assert result.returncode == 69, result.stdout + result.stderr
    assert len(lines) == 1 and "unix:///nonexistent/docker.sock" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", sorted(EVERY_COMMAND))
def test_docker_missing_gives_exit_69_naming_it(command: str, reliability: ReliabilityRecorder) -> None:
    result = dockermem(
        *EVERY_COMMAND[command], env=cli_env(DOCKERMEM_DOCKER_BINARY="docker-gone-missing"), timeout=60
    )
    reliability(
        "faults", f"`dockermem {command}` with the docker binary missing from PATH",
        "exit 69, one line naming what was looked for", f"exit {result.returncode}: {result.stderr.strip()}",
    )  # fmt: skip
    assert result.returncode == 69
    assert result.stderr.strip().splitlines() == [
        "dockermem: docker is not installed: 'docker-gone-missing' was not found on PATH"
    ]


@pytest.fixture(scope="module")
def http_not_docker() -> Iterator[str]:
    """A host that answers HTTP, with pages that are not the Docker API (404 for every path)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"tcp://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


# An engine or context that cannot be used, as a user meets it: (command, environment, exit
# code, what the one line must name). The HTTP host is filled in from its fixture.
ENGINE_FAULTS = {
    "context-missing-env": (["health", "--json"], {"DOCKER_CONTEXT": "nosuch"}, 2, 'context "nosuch"'),
    "context-missing-flag": (
        ["watch", "--context", "nosuchctx", "--duration", "2"], {}, 2, 'context "nosuchctx"',
    ),
    "context-missing-watch-json": (
        ["watch", "--json", "--context", "nosuchctx", "--duration", "2"], {}, 2, 'context "nosuchctx"',
    ),
    "host-bad-address": (["stats", "--json"], {"DOCKER_HOST": "bogus://x"}, 2, "bogus://x"),
    "port-closed": (["health"], {"DOCKER_HOST": "tcp://127.0.0.1:1"}, 69, "tcp://127.0.0.1:1"),
    "http-not-docker": (["health", "--json"], {"DOCKER_HOST": "HTTP"}, 69, "HTTP"),
    "http-not-docker-watch": (["watch", "--duration", "2"], {"DOCKER_HOST": "HTTP"}, 69, "HTTP"),
    "socket-missing-watch-json": (
        ["watch", "--json", "--duration", "2"], {"DOCKER_HOST": "unix:///nope.sock"}, 69, "unix:///nope.sock",
    ),
    "binary-fails": (["health"], {"DOCKERMEM_DOCKER_BINARY": "/bin/false"}, 69, "/bin/false ps"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(ENGINE_FAULTS))
def test_an_engine_that_cannot_be_used_is_one_short_line_with_its_exit_code(
    case: str, http_not_docker: str, reliability: ReliabilityRecorder
) -> None:
    """Exit 2 for a context or host that names no engine, 69 for one that does not answer as
    Docker: one line that says what was tried in words (never the --format template) and
    docker's own reason; under --json the same as a JSON error on stdout."""
    args, variables, code, named = ENGINE_FAULTS[case]
    variables = {key: value.replace("HTTP", http_not_docker) for key, value in variables.items()}
    named = named.replace("HTTP", http_not_docker)
    result = dockermem(*args, env=cli_env(**variables), timeout=60)
    lines = result.stderr.strip().splitlines()
    reliability(
        "faults", f"`dockermem {' '.join(args)}` with {variables or 'nothing else'}",
        f"exit {code}, one short line naming {named}", f"exit {result.returncode}: {result.stderr.strip()}",
    )  # fmt: skip
    shown = f"exit {result.returncode}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.returncode == code, shown
    assert len(lines) == 1 and lines[0].startswith("dockermem: "), shown
    assert named in lines[0] and len(lines[0]) <= 200, shown
    assert "{{" not in lines[0] and "/usr/local/bin" not in lines[0], shown
    if "--json" in args:
        assert json.loads(result.stdout) == {
            "schema": 1, "ok": False, "error": lines[0].removeprefix("dockermem: "), "exit_code": code,
        }, shown  # fmt: skip
    else:
        assert result.stdout == "", shown


def test_a_call_that_never_answers_is_killed_retried_and_leaves_nothing(
    hanging_docker: Path, reliability: ReliabilityRecorder
) -> None:
    result = dockermem(
        "health",
        env=cli_env(
            DOCKERMEM_DOCKER_BINARY=str(hanging_docker),
            DOCKERMEM_DOCKER_TIMEOUT_SECONDS="1",
            DOCKERMEM_DOCKER_RETRIES="1",
        ),
        timeout=60,
    )
    pids = [int(pid) for pid in (hanging_docker.parent / "pids").read_text().split()]
    alive = running_with(pids, "sleep 300") + running_with(pids, str(hanging_docker))
    reliability(
        "faults", "`dockermem health` with a docker that never answers (timeout 1 s, 1 retry)",
        "killed at its timeout, retried once, exit 69, no process left",
        f"exit {result.returncode}; {len(pids)} processes started, {len(alive)} left; "
        f"{result.stderr.strip()}",
    )  # fmt: skip
    assert result.returncode == 69
    assert "did not answer within 1s (2 attempts)" in result.stderr
    assert alive == []
    assert len(pids) >= 4  # two attempts of the first call, each with its own child


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_end_watch_with_its_summary_and_no_orphans(
    signum: int, code: int, reliability: ReliabilityRecorder
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dockermem", "watch", "--interval", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    output = PipeLines(process.stdout)
    output.until(" host ")  # a frame's line: watching
    children = descendants(process.pid)
    process.send_signal(signum)
    out, err = finish(process, 30, output)
    left = still_running(children)
    name = signal.Signals(signum).name
    reliability(
        "signals", f"{name} to `dockermem watch`", f"exit {code}, the peaks printed, no docker process left",
        f"exit {process.returncode}, peaks {'printed' if 'PEAKS' in out else 'missing'}, {len(left)} left",
    )  # fmt: skip
    assert process.returncode == code, err
    assert "PEAKS" in out
    assert "Traceback" not in err
    assert left == []


@pytest.fixture
def slow_stack(tmp_path: Path) -> Iterator[ComposeProject]:
    project = ComposeProject(unique_name("dmsignal"), tmp_path / "compose.yaml")
    project.services = {"slow": memhog_service(4, "32m", healthy=False)}
    try:
        yield project
    finally:
        project.down()


def test_sigterm_during_up_exits_143_and_leaves_no_docker_process(
    slow_stack: ComposeProject, reliability: ReliabilityRecorder
) -> None:
    slow_stack.write()
    process = subprocess.Popen(
        [sys.executable, "-m", "dockermem", "up", "-f", str(slow_stack.file), "-p", slow_stack.name,
         "--wait-timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    progress = PipeLines(process.stderr)
    progress.until("slow started")  # compose now waits for its health check
    children = descendants(process.pid)
    process.send_signal(signal.SIGTERM)
    out, err = finish(process, 60, stderr=progress)
    left = still_running(children)
    reliability(
        "signals", "SIGTERM to `dockermem up` while compose waits for a service that never becomes healthy",
        "exit 143, the state of the stack reported, no docker process left",
        f"exit {process.returncode}, {len(children)} children then, {len(left)} left",
    )  # fmt: skip
    assert process.returncode == 143, out + err
    assert "Interrupted" in out and "slow" in out
    assert left == []


def test_containers_removed_restarted_and_oom_killed_during_watch(
    tmp_path: Path, reliability: ReliabilityRecorder
) -> None:
    project = ComposeProject(unique_name("dmchurn"), tmp_path / "compose.yaml")
    hog = memhog_service(4, "32m", checked=False)
    hog["command"] = ["sh", "-c", "sleep 3; exec memhog 100"]  # PID 1 grows past its limit after 3 s
    hog["memswap_limit"] = "32m"
    hog["restart"] = "no"
    child_host = memhog_service(4, "64m", checked=False)
    child_host["memswap_limit"] = "64m"
    project.services = {
        "removed": memhog_service(4, "32m", checked=False),
        "restarted": memhog_service(4, "32m", checked=False),
        "pid1": hog,
        "child": child_host,
    }
    try:
        project.up()
        watcher = subprocess.Popen(
            [sys.executable, "-m", "dockermem", "watch", "--json", "-p", project.name, "--duration", "12",
             "--interval", "0.5"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
        )  # fmt: skip
        output = PipeLines(watcher.stdout)
        output.until('"type": "sample"')  # watching
        project.compose("rm", "--stop", "--force", "removed")
        project.compose("restart", "--timeout", "1", "restarted")
        project.compose("exec", "-T", "child", "memhog", "200", check=False)
        out, err = finish(watcher, 90, output)
    finally:
        project.down()
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    ooms = sorted(line["container"] for line in lines if line["type"] == "oom")
    gone = [line["container"] for line in lines if line["type"] == "gone"]
    last = [line for line in lines if line["type"] == "sample"][-1]
    reliability(
        "faults", "during `watch`: one container removed, one restarted, one OOM-killed as PID 1, "
        "a process in another OOM-killed", "an oom event for each kill, gone for the removed one, "
        "samples carry on, exit 1", f"exit {watcher.returncode}; oom: {ooms}; gone: {gone}",
    )  # fmt: skip
    assert "Traceback" not in err
    assert watcher.returncode == 1
    assert ooms == sorted([f"{project.name}-child-1", f"{project.name}-pid1-1"])
    assert f"{project.name}-removed-1" in gone
    assert {row["service"] for row in last["containers"]} >= {"restarted", "child"}


def test_daemon_restarted_during_up_is_reported_and_nothing_hangs(
    tmp_path: Path, reliability: ReliabilityRecorder
) -> None:
    second = SecondDaemon()
    try:
        second.start()
        second.load_test_image()
        project = ComposeProject(unique_name("dmdaemonup"), tmp_path / "compose.yaml")
        project.services = {"slow": memhog_service(4, "32m", healthy=False)}
        project.write()
        process = subprocess.Popen(
            [sys.executable, "-m", "dockermem", "up", "-f", str(project.file), "-p", project.name,
             "--wait-timeout", "60", "--no-preflight"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(DOCKER_HOST=second.host),
        )  # fmt: skip
        progress = PipeLines(process.stderr)
        progress.until("slow started")  # compose now waits for its health check
        second.stop()
        out, err = finish(process, 120, stderr=progress)
        second.start()
    finally:
        second.remove()
    reliability(
        "faults", "the engine stopped while `dockermem up` waits for a stack",
        "a non-zero exit that says the engine stopped answering; no hang",
        f"exit {process.returncode}: {(out + err).strip().splitlines()[-1] if (out + err).strip() else ''}",
    )  # fmt: skip
    assert process.returncode in (1, 69), out + err
    assert "Traceback" not in err
    assert "engine stopped answering" in out or "unreachable" in err or "did not start" in out
