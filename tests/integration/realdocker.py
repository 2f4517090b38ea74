"""Helpers for tests against the real engine: compose projects and containers that hold a
known amount of memory (the memhog test image), always removed afterwards."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio.abc
import yaml

from tests.conftest import REPO
from tests.schemas import check_document, check_json_output, dockermem_args

MIB = 1024 * 1024
MEMHOG_IMAGE = "dockermem/memhog:test"
TEST_LABEL = "dockermem.test"
# The engine is shared by every test: the counts are kept far from their maxima unless a test
# is about them.
ROOMY_COUNTS = {
    "DOCKER_MAX_CONTAINERS": "100000",
    "DOCKER_MAX_NETWORKS": "100000",
    "DOCKER_MAX_VOLUMES": "100000",
}


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a dockermem run by a test: this one, with roomy counts and `extra`."""
    return {**os.environ, **ROOMY_COUNTS, **extra}


def docker(
    *args: str, check: bool = True, timeout: float = 120, host: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The docker CLI, on the default engine or the one at `host`."""
    env = None if host is None else {**os.environ, "DOCKER_HOST": host}
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=check, timeout=timeout, env=env
    )


@dataclass(frozen=True)
class Engine:
    """One engine of the test matrix, and what differs on it (scripts/ensure-engines)."""

    name: str
    host: str | None  # DOCKER_HOST (None: the default engine)
    memory_cgroup: str  # a container's memory cgroup under /sys/fs/cgroup/memory (cgroup v1)
    runs_health_checks: bool = True  # Podman runs them with systemd timers: none here
    sends_oom_events: bool = True
    ensured_as: str | None = None  # its name for scripts/ensure-engines (None: the default engine)
    daemon_process: str | None = None  # `pgrep -f` pattern of its daemon alone (stopped by a test only)

    def stop_daemon(self) -> None:
        """Stop this engine's daemon (never the default engine's) and wait until it is gone."""
        assert self.daemon_process is not None, "the default engine is never stopped by a test"
        subprocess.run(["pkill", "-TERM", "-f", self.daemon_process], check=False)
        gone = ["pgrep", "-f", self.daemon_process]
        wait_until(lambda: subprocess.run(gone, capture_output=True).returncode != 0, 60, "daemon gone")

    @contextmanager
    def paused_daemon(self) -> Iterator[None]:
        """Its daemon stopped in its tracks (SIGSTOP) for the block, as a machine too busy to
        run it would; the containers run on without it. Never the default engine's."""
        assert self.daemon_process is not None, "the default engine is never paused by a test"
        subprocess.run(["pkill", "-STOP", "-f", self.daemon_process], check=True)
        try:
            yield
        finally:
            subprocess.run(["pkill", "-CONT", "-f", self.daemon_process], check=True)

    def start_daemon(self) -> None:
        """Start it again, as `make test` does (scripts/ensure-engines)."""
        assert self.ensured_as is not None
        subprocess.run([str(REPO / "scripts" / "ensure-engines"), self.ensured_as], check=True, timeout=180)

    def kernel_memory_bytes(self, container_id: str) -> int:
        """The kernel's own figure for a container: its cgroup's usage less its inactive file
        pages (what `docker stats` shows on Docker, and dockermem's cgroup path reads)."""
        folder = Path("/sys/fs/cgroup/memory") / self.memory_cgroup.format(id=container_id)
        usage = int((folder / "memory.usage_in_bytes").read_text())
        stat = dict(line.split() for line in (folder / "memory.stat").read_text().splitlines())
        return usage - int(stat["total_inactive_file"])

    def env(self, **extra: str) -> dict[str, str]:
        """A dockermem's environment on this engine (roomy counts)."""
        return cli_env(**({} if self.host is None else {"DOCKER_HOST": self.host}), **extra)

    def docker(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return docker(*args, check=check, timeout=timeout, host=self.host)


DEFAULT_ENGINE = Engine("docker-20.10", None, "docker/{id}")
DOCKER_26 = Engine("docker-26", "unix:///var/run/docker26.sock", "docker26/{id}", ensured_as="docker26",
                   daemon_process="dockerd --data-root /var/lib/docker26 ")  # fmt: skip
PODMAN = Engine("podman-4.3", "unix:///run/podman/podman.sock", "libpod_parent/libpod-{id}",
                runs_health_checks=False, sends_oom_events=False, ensured_as="podman",
                daemon_process="system service --time=0 unix:///run/podman/podman.sock")  # fmt: skip
ENGINES = (DEFAULT_ENGINE, DOCKER_26, PODMAN)


def dockermem(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The real command, as a user runs it (what it prints under --json checked against its schema)."""
    result = subprocess.run(
        [sys.executable, "-m", "dockermem", *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    check_json_output(args, result.stdout)
    return result


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def memhog_service(
    mib: float, limit: str | None, *, grow: float = 0.0, healthy: bool = True, checked: bool = True
) -> dict[str, object]:
    """A compose service whose main process holds `mib` MiB (and grows by `grow` MiB/s).

    `checked=False` leaves out the health check, whose process would add to the memory every
    second: for tests that compare readings of memory that holds still."""
    command = ["memhog", f"{mib:g}"] + ([f"{grow:g}"] if grow else [])
    service: dict[str, object] = {
        "image": MEMHOG_IMAGE,
        "command": command,
        "network_mode": "none",
        "labels": {TEST_LABEL: "1"},
    }
    if checked:
        service["healthcheck"] = {
            "test": ["CMD", "cat", "/tmp/ready"] if healthy else ["CMD", "false"],
            "interval": "1s",
            "timeout": "2s",
            "retries": 30,
        }
    if limit is not None:
        service["mem_limit"] = limit
    return service


def chained_services() -> dict[str, dict[str, object]]:
    """A stack for selecting services: `web` (128m) needs `db` (64m, healthy first), which needs
    `cache` (32m); `big` (512m) stands alone; `extra` (16m) is in the inactive profile `debug`."""
    web, db = memhog_service(4, "128m"), memhog_service(4, "64m")
    web["depends_on"] = {"db": {"condition": "service_healthy"}}
    db["depends_on"] = ["cache"]
    extra = memhog_service(4, "16m")
    extra["profiles"] = ["debug"]
    return {"web": web, "db": db, "cache": memhog_service(4, "32m"), "big": memhog_service(4, "512m"),
            "extra": extra}  # fmt: skip


@dataclass
class ComposeProject:
    """A compose project written to a temporary file; `down` removes everything it made."""

    name: str
    file: Path
    services: dict[str, dict[str, object]] = field(default_factory=dict)
    engine: Engine = DEFAULT_ENGINE

    def write(self) -> Path:
        self.file.write_text(yaml.safe_dump({"name": self.name, "services": self.services}))
        return self.file

    def compose(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        return self.engine.docker(
            "compose", "-f", str(self.file), "-p", self.name, *args, check=check, timeout=timeout
        )

    def up(self, *services: str) -> None:
        self.write()
        self.compose("up", "-d", "--wait", *services)

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "1", check=False)

    def wait_ready(self) -> None:
        """Until every service's memhog has allocated what it holds (it writes /tmp/ready)."""
        for service in self.services:
            command = ("exec", "-T", service, "cat", "/tmp/ready")
            wait_until(
                lambda c=command: self.compose(*c, check=False).returncode == 0, what=f"{service} ready"
            )

    def container_id(self, service: str) -> str:
        return self.compose("ps", "-a", "-q", service).stdout.strip()


def run_container(
    name: str, args: Sequence[str], *, labels: dict[str, str] | None = None, engine: Engine = DEFAULT_ENGINE
) -> str:
    """`docker run -d` with no network (on the default engine, or `engine`); returns the container id."""
    label_args = [
        item
        for key, value in {TEST_LABEL: "1", **(labels or {})}.items()
        for item in ("--label", f"{key}={value}")
    ]
    return engine.docker("run", "-d", "--network", "none", "--name", name, *label_args, *args).stdout.strip()


class JsonLines:
    """A running dockermem's stdout of JSON lines (`watch --json`), read as far as a test needs."""

    def __init__(self, stream: anyio.abc.ByteReceiveStream) -> None:
        self.stream = stream
        self.lines: list[dict[str, Any]] = []
        self._pending = b""

    async def until(self, needle: str) -> list[dict[str, Any]]:
        """Read on until a line holds `needle`; the lines read meanwhile (that one the last)."""
        read: list[dict[str, Any]] = []
        while True:
            while b"\n" in self._pending:
                raw, self._pending = self._pending.split(b"\n", 1)
                if raw.strip():
                    line = json.loads(raw)
                    check_document("watch", line)
                    read.append(line)
                    self.lines.append(line)
                    if needle in raw.decode():
                        return read
            self._pending += await self.stream.receive()


class PipeLines:
    """One pipe of a process a test runs (`subprocess.Popen(..., stdout=PIPE)`), read line by
    line as far as the test needs: instead of sleeping and hoping the process has got there,
    the test waits for the line that says it has. What was read is kept in `text`."""

    def __init__(self, pipe: IO[str] | IO[bytes] | None) -> None:
        assert pipe is not None
        self.fd = pipe.fileno()
        self.text = ""
        self._pending = b""

    def until(self, needle: str, timeout: float = 60) -> str:
        """The first line (after those already read) that holds `needle`."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._pending:
                raw, self._pending = self._pending.split(b"\n", 1)
                line = raw.decode("utf-8", errors="replace")
                self.text += line + "\n"
                if needle in line:
                    return line
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(0.0, remaining))
            if not ready:
                raise AssertionError(f"no line with {needle!r} within {timeout:g}s; read:\n{self.text}")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise AssertionError(f"the output ended before a line with {needle!r}; read:\n{self.text}")
            self._pending += chunk

    @property
    def consumed(self) -> str:
        """All that was read from the pipe so far, a part line included."""
        return self.text + self._pending.decode("utf-8", errors="replace")


def watching(
    project: ComposeProject, duration: float, **extra: str
) -> tuple[subprocess.Popen[str], PipeLines]:
    """`dockermem watch --json` of the project on its engine, a sample every half second,
    running beside the test (`extra`: more of its environment): the process, and its output
    to read line by line."""
    watcher = subprocess.Popen(
        [sys.executable, "-m", "dockermem", "watch", "--json", "-p", project.name,
         "--duration", f"{duration:g}", "--interval", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=project.engine.env(**extra),
    )  # fmt: skip
    return watcher, PipeLines(watcher.stdout)


def finish(
    process: subprocess.Popen[str],
    timeout: float,
    stdout: PipeLines | None = None,
    stderr: PipeLines | None = None,
) -> tuple[str, str]:
    """Wait for a process to end: its whole stdout and stderr (with what was read through
    `PipeLines` before); a dockermem's --json output checked against its schema."""
    out, err = process.communicate(timeout=timeout)
    out = (stdout.consumed if stdout else "") + (out or "")
    check_json_output(dockermem_args(process.args), out)
    return out, (stderr.consumed if stderr else "") + (err or "")


def wait_until(predicate: object, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def inspect(container: str) -> dict[str, object]:
    document = json.loads(docker("inspect", container).stdout)[0]
    assert isinstance(document, dict)
    return document
