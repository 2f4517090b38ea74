"""Shared fixtures: a quiet, fixed-width terminal and a private state directory for every test."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SETTING_VARIABLES = (
    "DOCKER_MAX_MEMORY_GB",
    "DOCKER_MAX_CONTAINERS",
    "DOCKER_MAX_NETWORKS",
    "DOCKER_MAX_VOLUMES",
)


@pytest.fixture(autouse=True)
def quiet_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No colour, 100 columns, no user config, and a state directory of the test's own."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("DOCKERMEM_STATE_DIR", str(tmp_path / "state"))
    for name in list(os.environ):
        if name in SETTING_VARIABLES or (name.startswith("DOCKERMEM_") and name != "DOCKERMEM_STATE_DIR"):
            if name != "DOCKERMEM_REQUIRE_DOCKER":
                monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[None]:
    """A Docker engine that answers. In `make test` (DOCKERMEM_REQUIRE_DOCKER=1) its absence
    fails the run: integration tests must run, never skip."""
    ok = shutil.which("docker") is not None and (
        subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0
    )
    if not ok:
        message = "no Docker engine answers: run scripts/ensure-docker (make test does)"
        if os.environ.get("DOCKERMEM_REQUIRE_DOCKER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    yield
