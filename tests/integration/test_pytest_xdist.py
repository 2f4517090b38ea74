"""The pytest plugin under real pytest-xdist, against the real engine: one stack for the run
that every worker attaches to, a stack per worker when asked, kills tied to the test of the
worker that ran it, and `-n auto` sized by memory, given or learnt from a past run."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dockermem.core.history import recommend_limit
from dockermem.docker.parse import parse_size
from tests.conftest import ReliabilityRecorder
from tests.integration.realdocker import MIB, cli_env, dockermem

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine", "roomy_counts")]
pytest_plugins = ["pytester"]

STACK = """
services:
  worker:
    image: dockermem/memhog:test
    command: ["memhog", "8"]
    network_mode: none
    mem_limit: 96m
    memswap_limit: 96m
"""


@pytest.fixture
def stack(pytester: pytest.Pytester) -> Path:
    compose = pytester.path / "stack.yaml"
    compose.write_text(STACK)
    return compose


def project_name() -> str:
    return f"dmxd-{uuid.uuid4().hex[:6]}"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider", timeout=300)


def projects_created(since: datetime, prefix: str) -> set[str]:
    """The compose projects of the containers created since then whose name starts so."""
    until = datetime.now(UTC)
    out = subprocess.run(
        ["docker", "events", "--since", f"{since.timestamp():.3f}", "--until", f"{until.timestamp():.3f}",
         "--filter", "type=container", "--filter", "event=create", "--format", "{{json .}}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    projects = {
        json.loads(line)["Actor"]["Attributes"].get("com.docker.compose.project", "")
        for line in out.splitlines()
    }
    return {project for project in projects if project.startswith(prefix)}


def test_one_stack_for_the_run_and_every_worker_attached_to_it(
    pytester: pytest.Pytester, stack: Path, reliability: ReliabilityRecorder
) -> None:
    seen = pytester.path / "seen"
    seen.mkdir()
    pytester.makepyfile(
        test_attached=f"""
import pathlib, time, pytest

@pytest.mark.parametrize("n", range(4))
def test_sees_the_stack(dockermem_stack, worker_id, n):
    time.sleep(0.5)
    assert [c.service for c in dockermem_stack.snapshot().containers] == ["worker"]
    pathlib.Path({str(seen)!r}, f"{{worker_id}}-{{n}}").write_text(dockermem_stack.project)
"""
    )
    base, started = project_name(), datetime.now(UTC)
    result = run(pytester, "-n", "2", "--dockermem", str(stack), "--dockermem-project", base)
    result.assert_outcomes(passed=4)
    workers = {path.name.split("-")[0] for path in seen.iterdir()}
    projects = {path.read_text() for path in seen.iterdir()}
    created = projects_created(started, base)
    reliability(
        "xdist", "`pytest -n 2 --dockermem stack.yaml`, 4 tests that read the stack",
        "2 workers, one compose project for the run, both attached to it",
        f"workers {sorted(workers)}; projects created {len(created)}; named by the workers {len(projects)}",
    )  # fmt: skip
    assert workers == {"gw0", "gw1"}
    assert len(projects) == 1 and created == projects
    assert f"stack {projects.pop()} started in" in result.stdout.str()


def test_a_stack_per_worker_when_asked(pytester: pytest.Pytester, stack: Path) -> None:
    seen = pytester.path / "seen"
    seen.mkdir()
    pytester.makepyfile(
        test_own=f"""
import pathlib, time, pytest

@pytest.mark.parametrize("n", range(4))
def test_own_stack(dockermem_stack, worker_id, n):
    time.sleep(0.5)
    pathlib.Path({str(seen)!r}, f"{{worker_id}}-{{n}}").write_text(dockermem_stack.project)
"""
    )
    base, started = project_name(), datetime.now(UTC)
    result = run(pytester, "-n", "2", "--dockermem", str(stack), "--dockermem-project", base,
                 "--dockermem-scope", "worker")  # fmt: skip
    result.assert_outcomes(passed=4)
    by_worker = {path.name.split("-")[0]: path.read_text() for path in seen.iterdir()}
    assert set(by_worker) == {"gw0", "gw1"} and len(set(by_worker.values())) == 2
    assert projects_created(started, base) == set(by_worker.values())


def test_stacks_per_worker_that_do_not_all_fit_stop_the_run_before_any_test(
    pytester: pytest.Pytester, stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 150 MiB of budget: one stack of 96 MiB fits, two do not.
    monkeypatch.setenv("DOCKER_MAX_MEMORY_GB", repr(150 / 1024))
    monkeypatch.setenv("DOCKERMEM_SAFETY_MARGIN_GB", "0")
    marker = pytester.path / "a-test-ran"
    pytester.makepyfile(test_never=f"def test_never():\n    open({str(marker)!r}, 'w').close()\n")
    result = run(pytester, "-n", "2", "--dockermem", str(stack), "--dockermem-scope", "worker")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret != 0 and not marker.exists()
    assert "2 stacks do not fit, 1 would: 150MiB budget / (96.0MiB stack)" in output, output


def test_a_kill_is_tied_to_the_worker_that_ran_it_and_the_other_is_named_not_blamed(
    pytester: pytest.Pytester, stack: Path
) -> None:
    pytester.makepyfile(
        test_export=f"""
import subprocess, time, pytest

@pytest.fixture
def later():
    time.sleep(2)  # its test's call starts after the other's

def test_list(dockermem_stack):
    time.sleep(6)

def test_big_export(dockermem_stack, later):
    subprocess.run(["docker", "compose", "-f", {str(stack)!r}, "-p", dockermem_stack.project,
                    "exec", "-T", "worker", "memhog", "300"], capture_output=True)
"""
    )
    result = run(pytester, "-n", "2", "--dockermem", str(stack), "--dockermem-project", project_name(), "-v")
    output = result.stdout.str()
    blame = re.search(
        r"worker was OOM-killed while (gw\d) ran test_export.py::test_big_export \((gw\d) ran "
        r"test_export.py::test_list\)",
        output,
    )
    assert blame is not None and blame.group(1) != blame.group(2), output
    result.assert_outcomes(passed=1, failed=1)
    assert re.search(r"FAILED test_export.py::test_big_export", output)


def test_n_auto_starts_only_the_workers_that_fit_beside_the_stack(
    pytester: pytest.Pytester,
    stack: Path,
    monkeypatch: pytest.MonkeyPatch,
    reliability: ReliabilityRecorder,
) -> None:
    monkeypatch.setenv("DOCKERMEM_SAFETY_MARGIN_GB", "0")
    pytester.makepyfile(test_two="def test_a(): pass\ndef test_b(): pass\n")
    # 700 MiB of budget: the stack's 96 MiB and one worker of 512 MiB.
    monkeypatch.setenv("DOCKER_MAX_MEMORY_GB", repr(700 / 1024))
    one = run(pytester, "-n", "auto", "--dockermem", str(stack), "--dockermem-per-worker", "512m")
    one.assert_outcomes(passed=2)
    started = re.search(r"created: (\d+)/(\d+) worker", one.stdout.str())
    reliability(
        "xdist", "`pytest -n auto --dockermem-per-worker 512m` on 2 CPUs, 700 MiB of budget, a 96 MiB stack",
        "1 worker started, not 2", f"workers started: {started.group(1) if started else '?'}",
    )  # fmt: skip
    assert (
        "dockermem: -n auto -> 1 workers: (700MiB budget - 96.0MiB stack) / 512MiB per worker"
        in one.stdout.str()
    )
    assert re.search(r"created: 1/1 worker", one.stdout.str())
    # 500 MiB: not even one worker beside the stack.
    monkeypatch.setenv("DOCKER_MAX_MEMORY_GB", repr(500 / 1024))
    marker = pytester.path / "a-test-ran"
    pytester.makepyfile(test_two=f"def test_a():\n    open({str(marker)!r}, 'w').close()\n")
    none = run(pytester, "-n", "auto", "--dockermem", str(stack), "--dockermem-per-worker", "512m")
    output = none.stdout.str() + none.stderr.str()
    assert none.ret != 0 and not marker.exists()
    assert "not even one test worker fits: (500MiB budget - 96.0MiB stack) / 512MiB per worker" in output


def test_the_size_of_a_worker_is_learnt_from_the_run_before(
    pytester: pytest.Pytester, stack: Path, reliability: ReliabilityRecorder
) -> None:
    held = pytester.path / "held"
    held.mkdir()
    pytester.makepyfile(
        test_hold=f"""
import os, pathlib, time, psutil, pytest

@pytest.mark.parametrize("n", range(2))
def test_hold(dockermem_stack, worker_id, n):
    before = psutil.Process().memory_info().rss
    block = b"x" * (150 * 1024 * 1024)  # written: every page is resident
    time.sleep(2)
    pathlib.Path({str(held)!r}, worker_id).write_text(str(before + len(block)))
"""
    )
    base = project_name()
    never = dockermem("fit", "-f", str(stack), "-p", base, "--per-worker", "auto", "--json", env=cli_env())
    assert never.returncode == 2 and "no run of" in never.stderr
    first = run(pytester, "-n", "2", "--dockermem", str(stack), "--dockermem-project", base)
    first.assert_outcomes(passed=2)
    holding = max(int(path.read_text()) for path in held.iterdir())
    recorded = json.loads(dockermem("report", "--since", "1h", "--json", "-p", base, env=cli_env()).stdout)
    [workers] = [row for row in recorded["services"] if row["service"] == "pytest-worker"]
    reliability(
        "xdist", "`pytest -n 2`: each worker holds 150 MiB in its test; the run's recorded worker peak",
        "the recorded peak within 20 % of what a worker held",
        f"held {holding / MIB:.1f} MiB, recorded {workers['peak_bytes'] / MIB:.1f} MiB "
        f"({100 * (workers['peak_bytes'] - holding) / holding:+.1f} %)",
    )  # fmt: skip
    assert abs(workers["peak_bytes"] - holding) <= 0.20 * holding, (
        workers["peak_bytes"] / MIB,
        holding / MIB,
    )

    second = run(pytester, "-n", "auto", "--dockermem", str(stack), "--dockermem-project", base)
    second.assert_outcomes(passed=2)
    line = next(line for line in second.stdout.lines if line.startswith("dockermem: -n auto"))
    figure = re.search(r"/ (\S+) per worker \(peak of 1 recorded run\)", line)
    assert figure is not None, line
    assert parse_size(figure.group(1)) == recommend_limit(workers["peak_bytes"])
    # Both runs recorded now: `fit --per-worker auto` takes the peak of the two.
    again = json.loads(dockermem("report", "--since", "1h", "--json", "-p", base, env=cli_env()).stdout)
    [both] = [row for row in again["services"] if row["service"] == "pytest-worker"]
    fit = json.loads(dockermem("fit", "-f", str(stack), "-p", base, "--per-worker", "auto", "--json",
                               env=cli_env()).stdout)  # fmt: skip
    assert both["runs"] == 2
    assert (fit["per_worker_from"], fit["per_worker_recorded_runs"]) == ("recorded", 2)
    assert fit["per_worker_bytes"] == recommend_limit(both["peak_bytes"])
