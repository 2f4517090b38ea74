"""What the real-engine tests share: a compose project of the test's own, resource counts kept
far from their maxima on an engine every test uses, a second daemon to stop and restart, and
stand-in `docker` programs for the faults a real engine cannot be ordered to have."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.daemons import SecondDaemon
from tests.integration.realdocker import ENGINES, ROOMY_COUNTS, ComposeProject, Engine, unique_name


@pytest.fixture
def roomy_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine is shared with other tests: keep the resource counts away from their maxima
    (for dockermem run in this process, as the Python API and the plugin are)."""
    for name, value in ROOMY_COUNTS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ComposeProject]:
    """A compose project of the test's own (named after its module: `test_up` gives `dmup-…`),
    brought down with everything it made when the test ends."""
    short = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "")
    stack = ComposeProject(unique_name(f"dm{short}"), tmp_path / "compose.yaml")
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture(params=ENGINES, ids=[engine.name for engine in ENGINES])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each engine of the matrix in turn: Docker 20.10 (the default), Docker 26 and Podman, as
    scripts/ensure-engines starts them (`make test` does). One that does not answer fails the
    test: the matrix must run, never skip."""
    chosen: Engine = request.param
    if chosen.host is not None and chosen.docker("version", check=False).returncode != 0:
        message = f"the {chosen.name} engine does not answer on {chosen.host}: run scripts/ensure-engines"
        if os.environ.get("DOCKERMEM_REQUIRE_DOCKER") == "1":
            pytest.fail(message)
        pytest.skip(message)  # a hand run without the matrix (make test always has it)
    return chosen


@pytest.fixture
def engine_project(
    engine: Engine, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[ComposeProject]:
    """A compose project of the test's own on the engine of the matrix the test runs on."""
    short = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "")
    stack = ComposeProject(unique_name(f"dm{short}"), tmp_path / "compose.yaml", engine=engine)
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture
def second_daemon() -> Iterator[SecondDaemon]:
    """A second dockerd of the test's own (its own socket and data root), with the test image."""
    daemon = SecondDaemon()
    try:
        daemon.start()
        daemon.load_test_image()
        yield daemon
    finally:
        daemon.remove()


def stand_in_docker(directory: Path, body: str) -> Path:
    """A `docker` program of the test's making that runs a shell body."""
    script = directory / "docker"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.fixture
def hanging_docker(tmp_path: Path) -> Path:
    """A stand-in `docker` that never answers (a hang cannot be ordered from a real engine); the
    PIDs it starts are in `pids` beside it."""
    return stand_in_docker(
        tmp_path, f"echo $$ >> {tmp_path}/pids\nsleep 300 &\necho $! >> {tmp_path}/pids\nwait"
    )


@pytest.fixture
def logging_docker(tmp_path: Path) -> Path:
    """The real `docker`, behind a wrapper that logs each call's arguments to `docker-calls.log`."""
    real = shutil.which("docker")
    assert real is not None
    return stand_in_docker(tmp_path, f'echo "$*" >> "{tmp_path}/docker-calls.log"\nexec "{real}" "$@"')
