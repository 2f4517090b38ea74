"""The pytest plugin, run through pytest's own pytester against the real engine."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.realdocker import MIB
from tests.schemas import json_output

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine", "roomy_counts")]
pytest_plugins = ["pytester"]


STACK = """
name: dmplugin
services:
  worker:
    image: dockermem/memhog:test
    command: ["memhog", "40"]
    network_mode: none
    mem_limit: 96m
    memswap_limit: 96m
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider", timeout=300)


def test_session_stops_before_any_test_when_the_stack_does_not_fit(pytester: pytest.Pytester) -> None:
    marker = pytester.path / "a-test-ran"
    pytester.makepyfile(test_never=f"def test_never():\n    open({str(marker)!r}, 'w').close()\n")
    result = run(pytester, "--dockermem", str(REPO / "compose/test/huge.yaml"))
    output = result.stdout.str() + result.stderr.str()
    assert result.ret != 0
    assert "the stack does not fit; no test was run" in output
    assert "short by" in output
    assert not marker.exists()


def test_an_oom_kill_is_tied_to_the_test_that_caused_it(pytester: pytest.Pytester) -> None:
    compose = pytester.path / "stack.yaml"
    compose.write_text(STACK)
    pytester.makepyfile(
        test_export=f"""
import subprocess, time

def test_before(dockermem_stack):
    time.sleep(1)

def test_big_export(dockermem_stack):
    subprocess.run(["docker", "compose", "-f", {str(compose)!r}, "-p", dockermem_stack.project,
                    "exec", "-T", "worker", "memhog", "300"], capture_output=True)

def test_after(dockermem_stack):
    time.sleep(1)
"""
    )
    result = run(pytester, "--dockermem", str(compose), "-v")
    output = result.stdout.str()
    assert "worker was OOM-killed during test_export.py::test_big_export" in output, output
    result.assert_outcomes(passed=2, failed=1)
    assert re.search(r"test_export.py::test_big_export FAILED", output)
    assert re.search(r"test_export.py::test_before PASSED", output)
    assert re.search(r"test_export.py::test_after PASSED", output)
    assert "during test_export.py::test_before" not in output
    assert "during test_export.py::test_after" not in output


def test_warn_mode_reports_without_failing(pytester: pytest.Pytester) -> None:
    compose = pytester.path / "stack.yaml"
    compose.write_text(STACK)
    pytester.makepyfile(
        test_warn=f"""
import subprocess

def test_spike(dockermem_stack):
    subprocess.run(["docker", "compose", "-f", {str(compose)!r}, "-p", dockermem_stack.project,
                    "exec", "-T", "worker", "memhog", "300"], capture_output=True)
"""
    )
    result = run(pytester, "--dockermem", str(compose), "--dockermem-on-oom", "warn")
    result.assert_outcomes(passed=1)
    assert "worker was OOM-killed during test_warn.py::test_spike" in result.stdout.str()


def test_the_summary_counts_a_kill_of_the_main_process(pytester: pytest.Pytester) -> None:
    # The worker's main process is killed when the test says go: the container dies with its
    # cgroup before any reading shows the kill. Its row still counts it, and its hint is sized
    # above the limit it was killed at (not to the little it held before).
    compose = pytester.path / "stack.yaml"
    compose.write_text(
        STACK.replace(
            '["memhog", "40"]', '["sh", "-c", "until [ -e /tmp/go ]; do sleep 0.1; done; exec memhog 300"]'
        )
    )
    pytester.makepyfile(
        test_pid1=f"""
import subprocess, time

def test_big_export(dockermem_stack):
    subprocess.run(["docker", "compose", "-f", {str(compose)!r}, "-p", dockermem_stack.project,
                    "exec", "-T", "worker", "sh", "-c", ": > /tmp/go"], check=True)
    deadline = time.monotonic() + 60
    while not any(event.type.value == "oom" for event in dockermem_stack.events()):
        assert time.monotonic() < deadline, "no OOM kill seen"
        time.sleep(0.2)
"""
    )
    result = run(pytester, "--dockermem", str(compose), "--dockermem-on-oom", "warn")
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert "worker was OOM-killed during test_pid1.py::test_big_export" in output, output
    _service, _peak, limit, kills, hint = next(
        line for line in result.stdout.lines if line.startswith("worker ")
    ).split(maxsplit=4)
    assert (limit, kills) == ("96.0MiB", "1"), output
    from dockermem.docker.parse import parse_size

    assert parse_size(hint.split()[1]) > 96 * MIB and hint.endswith("(OOM-killed 1×)"), hint


def test_summary_peaks_agree_with_stats_json(pytester: pytest.Pytester) -> None:
    compose = pytester.path / "stack.yaml"
    compose.write_text(STACK)
    stats_file = pytester.path / "stats.json"
    pytester.makepyfile(
        test_stats=f"""
import subprocess, sys, time

def test_hold(dockermem_stack):
    time.sleep(2)
    command = [sys.executable, "-m", "dockermem", "stats", "--json", "-p", dockermem_stack.project]
    out = subprocess.run(command, capture_output=True, text=True).stdout
    open({str(stats_file)!r}, "w").write(out)
    time.sleep(1)
"""
    )
    result = run(pytester, "--dockermem", str(compose))
    result.assert_outcomes(passed=1)
    line = next(line for line in result.stdout.lines if line.startswith("worker "))
    peak_text = line.split()[1]
    from dockermem.docker.parse import parse_size

    peak = parse_size(peak_text)
    [stats] = json_output(["stats", "--json"], stats_file.read_text())
    usage = stats["containers"][0]["memory_usage_bytes"]
    assert abs(peak - usage) <= 0.10 * usage, (peak / MIB, usage / MIB)
    assert abs(usage - 40 * MIB) <= 4 * MIB


def test_the_plugin_does_nothing_when_not_asked(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "docker-calls"
    stand_in = tmp_path / "docker"
    stand_in.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
    pytester.makepyfile(test_plain="def test_plain():\n    assert sum([1, 1]) == 2\n")
    monkeypatch.setenv("DOCKERMEM_DOCKER_BINARY", str(stand_in))
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert not log.exists(), log.read_text()
    assert re.search(r"=+ dockermem =+", result.stdout.str()) is None  # no summary section
    # Loading the plugin imports nothing beyond pytest and the plugin itself.
    probe = subprocess.run(
        [sys.executable, "-c",
         "import sys, pytest; before = set(sys.modules); import dockermem.pytest_plugin; "
         "print(sorted(set(sys.modules) - before))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(probe.stdout.replace("'", '"')) == ["dockermem", "dockermem.pytest_plugin"]
