"""The engine-info cache on the real engine: a second `stats` run within the TTL asks no
`docker info` and still reports the engine's memory; a daemon that is down still gives exit 69
and one line although its entry is in the cache; a restarted daemon is asked again at once.

docker is the real client behind a wrapper that logs each call's arguments, then execs it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockermem.core.engine_cache import engine_key, write_cached_engine_info
from dockermem.docker.models import EngineInfo
from tests.conftest import REPO, ReliabilityRecorder
from tests.integration.daemons import SecondDaemon
from tests.integration.realdocker import ComposeProject, cli_env, dockermem, memhog_service, unique_name

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

FITS = str(REPO / "compose/test/fits.yaml")
SNAPSHOT_AND_PREFLIGHT = {
    "stats": ["stats", "--json"],
    "health": ["health"],
    "preflight": ["preflight", "-f", FITS],
    "up": ["up", "-f", FITS, "-p", "dmcache-never"],
}


@dataclass(frozen=True)
class LoggedDocker:
    """The real docker, each call's arguments logged first."""

    log: Path
    environment: dict[str, str]

    def subcommands(self) -> list[str]:
        """The docker subcommand of each call since the last `forget` (`--context X` skipped)."""
        if not self.log.exists():
            return []
        words = [line.split() for line in self.log.read_text().splitlines()]
        return [w[2] if w[:1] == ["--context"] else w[0] for w in words if w]

    def forget(self) -> None:
        self.log.unlink(missing_ok=True)

    def run(self, *args: str, **environment: str) -> subprocess.CompletedProcess[str]:
        return dockermem(*args, env={**self.environment, **environment}, timeout=120)


@pytest.fixture
def logged_docker(logging_docker: Path) -> LoggedDocker:
    environment = cli_env(DOCKERMEM_DOCKER_BINARY=str(logging_docker))
    return LoggedDocker(logging_docker.parent / "docker-calls.log", environment)


def engine_memory(*host: str) -> int:
    result = subprocess.run(
        ["docker", *host, "info", "--format", "{{.MemTotal}}"], capture_output=True, text=True, check=True
    )
    return int(result.stdout)


def stats_memory(docker: LoggedDocker, **environment: str) -> int:
    result = docker.run("stats", "--json", **environment)
    assert result.returncode == 0, result.stderr
    memory: int = json.loads(result.stdout)["engine"]["memory_total_bytes"]
    return memory


def test_a_second_stats_run_asks_no_docker_info(logged_docker: LoggedDocker) -> None:
    expected = engine_memory()
    assert stats_memory(logged_docker) == expected
    assert "info" in logged_docker.subcommands()
    logged_docker.forget()
    assert stats_memory(logged_docker) == expected
    assert "info" not in logged_docker.subcommands()
    assert "ps" in logged_docker.subcommands()  # the log does see this run's calls
    logged_docker.forget()
    assert stats_memory(logged_docker, DOCKERMEM_ENGINE_INFO_TTL_SECONDS="0") == expected
    assert "info" in logged_docker.subcommands()


def test_up_asks_docker_info_once_its_monitor_reads_the_cache(
    logged_docker: LoggedDocker, tmp_path: Path
) -> None:
    # The preflight asks and caches; the monitor beside `compose up` and the report read the entry.
    stack = ComposeProject(unique_name("dmcache-up"), tmp_path / "compose.yaml")
    stack.services = {"small": memhog_service(8, "64m")}
    stack.write()
    try:
        result = logged_docker.run(
            "up", "-f", str(stack.file), "-p", stack.name, DOCKERMEM_SAMPLE_INTERVAL_SECONDS="0.5"
        )
        assert result.returncode == 0, result.stdout + result.stderr
        calls = logged_docker.subcommands()
        assert calls.count("info") == 1, calls
    finally:
        stack.down()


@pytest.fixture
def refusing_socket() -> Iterator[Path]:
    """A socket file nobody accepts on: a daemon that is down but left its socket behind."""
    base = Path(tempfile.mkdtemp(prefix="dmc-", dir="/tmp"))  # unix socket paths are short
    path = base / "docker.sock"
    bound = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound.bind(str(path))
    try:
        yield path
    finally:
        bound.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("command", sorted(SNAPSHOT_AND_PREFLIGHT))
def test_a_daemon_down_with_its_entry_cached_still_gives_exit_69_and_one_line(
    command: str, logged_docker: LoggedDocker, refusing_socket: Path, reliability: ReliabilityRecorder
) -> None:
    host = f"unix://{refusing_socket}"
    environment = {**logged_docker.environment, "DOCKER_HOST": host}
    key = engine_key(None, environment)
    assert key is not None
    engine = EngineInfo("gone", "20.10.24", "Debian", 8 * 1024**3, 2, "2", "systemd")
    # Stamped with the real time: the dockermem under test is another process, on the real clock.
    write_cached_engine_info(Path(os.environ["DOCKERMEM_STATE_DIR"]), key, engine, time.time(), 60.0)
    result = logged_docker.run(*SNAPSHOT_AND_PREFLIGHT[command], DOCKER_HOST=host)
    lines = result.stderr.strip().splitlines()
    reliability(
        "faults", f"`dockermem {command}` against a daemon that is down, its engine info in the cache",
        "exit 69, one line naming the socket, no `docker info` asked",
        f"exit {result.returncode}, {len(lines)} line(s), calls {logged_docker.subcommands()}",
    )  # fmt: skip
    assert result.returncode == 69, result.stdout + result.stderr
    assert len(lines) == 1 and host in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert "info" not in logged_docker.subcommands()  # the entry was used: the others failed


def test_a_restarted_daemon_is_asked_again_at_once(
    logged_docker: LoggedDocker, second_daemon: SecondDaemon
) -> None:
    # Through a context of the real docker CLI's making: its endpoint is read as docker reads it.
    config = second_daemon.context_config("dmcache")
    environment = {"DOCKER_CONFIG": config, "DOCKER_CONTEXT": "dmcache"}
    expected = engine_memory("--host", second_daemon.host)
    assert stats_memory(logged_docker, **environment) == expected
    assert "info" in logged_docker.subcommands()
    logged_docker.forget()
    assert stats_memory(logged_docker, **environment) == expected
    assert "info" not in logged_docker.subcommands()
    second_daemon.restart()
    logged_docker.forget()
    assert stats_memory(logged_docker, **environment) == expected
    assert "info" in logged_docker.subcommands()
