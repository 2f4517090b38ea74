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
# The test run's own variables, not dockermem settings: kept.
TEST_VARIABLES = ("DOCKERMEM_REQUIRE_DOCKER", "DOCKERMEM_TEST_ARTIFACTS")


@pytest.fixture(autouse=True)
def quiet_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No colour, 100 columns, no user config, and a state directory of the test's own."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("DOCKERMEM_STATE_DIR", str(tmp_path / "state"))
    for name in list(os.environ):
        if name in SETTING_VARIABLES or (name.startswith("DOCKERMEM_") and name != "DOCKERMEM_STATE_DIR"):
            if name not in TEST_VARIABLES:
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


# docs/reliability.md is written from the test run: each fault, bad input and load test
# records what was done, what was expected and what it saw; the outcome comes from pytest.
RELIABILITY_DOC = REPO / "docs" / "reliability.md"
_reliability_rows: dict[str, list[tuple[str, str, str, str]]] = {}
_reliability_outcomes: dict[str, str] = {}


class ReliabilityRecorder:
    """What a reliability test did, expected and saw, for docs/reliability.md."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid

    def __call__(self, area: str, done: str, expected: str, saw: str) -> None:
        _reliability_rows.setdefault(self.nodeid, []).append((area, done, expected, saw))


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> ReliabilityRecorder:
    return ReliabilityRecorder(request.node.nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _reliability_outcomes[report.nodeid] = report.outcome


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Only a full run (make test) rewrites the document; a partial run would drop rows.
    if (
        not _reliability_rows
        or os.environ.get("DOCKERMEM_REQUIRE_DOCKER") != "1"
        or session.config.option.keyword
        or session.config.option.markexpr
        or any(not arg.startswith("-") for arg in session.config.invocation_params.args)  # paths named
    ):
        return
    lines = [
        "# Reliability",
        "",
        "Written by `make test` from the tests themselves (tests/conftest.py): every fault, bad input",
        "and load case, what the test did, what was expected, what it saw, and whether it passed.",
        "",
        "| area | what was done | expected | what the test saw | result |",
        "|---|---|---|---|---|",
    ]
    for nodeid in sorted(_reliability_rows):
        outcome = _reliability_outcomes.get(nodeid, "not run")
        for area, done, expected, saw in _reliability_rows[nodeid]:
            cells = [area, done, expected, saw, outcome]
            lines.append(
                "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"
            )
    RELIABILITY_DOC.parent.mkdir(exist_ok=True)
    RELIABILITY_DOC.write_text("\n".join(lines) + "\n")
