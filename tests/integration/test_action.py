"""The GitHub Action (action.yml, and report/action.yml for the end of the job), its shell
steps run as the runner runs them (`bash --noprofile --norc -eo pipefail`), one after another,
with GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files carried between them
as the runner does, against a real compose stack. Steps that `uses:` another action (the
artifact upload) are not run: the test reads the folder they would upload."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.realdocker import ROOMY_COUNTS, docker, unique_name

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
STACK = REPO / "compose" / "test" / "fits.yaml"  # two small memhog services with health checks


@dataclass
class Runner:
    """The runner's side of a job: its files and the environment the steps have built."""

    folder: Path
    env: dict[str, str]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def summary(self) -> Path:
        return self.folder / "step-summary.md"

    def run_action(self, action_file: Path, inputs: dict[str, str]) -> None:
        """Every `run:` step of a composite action, in order; a failing step fails the test."""
        action = yaml.safe_load(action_file.read_text())
        assert action["runs"]["using"] == "composite"
        given = {name: str(spec.get("default", "")) for name, spec in action.get("inputs", {}).items()}
        assert set(inputs) <= set(given), f"no such inputs: {set(inputs) - set(given)}"
        given |= inputs
        context = {f"inputs.{name}": value for name, value in given.items()}
        context["github.action_path"] = str(action_file.parent)
        for step in action["runs"]["steps"]:
            if "run" not in step:
                assert "uses" in step
                continue
            assert step["shell"] == "bash" and "if" not in step
            assert not EXPRESSION.search(step["run"]), "inputs reach a script through env: only"
            env = {name: EXPRESSION.sub(lambda m: context[m.group(1)], str(value))
                   for name, value in step.get("env", {}).items()}  # fmt: skip
            self.run_step(step.get("id", step["name"]), step["run"], env)

    def run_step(self, step_id: str, script: str, step_env: dict[str, str]) -> None:
        files = {
            name: self.folder / f"{step_id}.{name}" for name in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT")
        }
        for path in files.values():
            path.write_text("")
        script_file = self.folder / f"{step_id}.sh"
        script_file.write_text(script)
        env = self.env | step_env | {name: str(path) for name, path in files.items()}
        env["GITHUB_STEP_SUMMARY"] = str(self.summary)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, (
            f"step {step_id} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
        for line in files["GITHUB_ENV"].read_text().splitlines():
            name, _, value = line.partition("=")
            self.env[name] = value
        for line in files["GITHUB_PATH"].read_text().splitlines():
            self.env["PATH"] = f"{line}{os.pathsep}{self.env['PATH']}"
        self.outputs[step_id] = dict(
            line.partition("=")[::2] for line in files["GITHUB_OUTPUT"].read_text().splitlines()
        )


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    """A job's environment on a runner: this one's PATH with dockermem on it, GitHub's own
    variables, and a RUNNER_TEMP of the test's."""
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("GITHUB_", "DOCKERMEM_"))
    }
    env |= ROOMY_COUNTS | {"GITHUB_ACTIONS": "true", "RUNNER_TEMP": str(tmp_path / "runner-temp")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    (tmp_path / "runner-temp").mkdir()
    return Runner(tmp_path, env)


def test_the_action_starts_the_stack_watches_it_and_reports_at_the_end(runner: Runner) -> None:
    project = unique_name("dmaction")
    try:
        # install: false uses the dockermem on PATH (this checkout's): a test installs nothing.
        inputs = {
            "compose-files": f"{STACK}\n",
            "project": project,
            "install": "false",
            "watch-interval": "0.5",
        }
        runner.run_action(REPO / "action.yml", inputs)
        work = Path(runner.env["DOCKERMEM_ACTION_DIR"])
        assert runner.env["DOCKERMEM_STATE_DIR"] == str(work / "state")
        assert runner.outputs["up"] == {"project": project, "state-dir": str(work / "state")}
        # up's own step summary, written while its step ran.
        assert f"dockermem up: {project}" in runner.summary.read_text()
        running = docker("ps", "--filter", f"label=com.docker.compose.project={project}", "-q").stdout.split()
        assert len(running) == 2
        watch_pid = int((work / "watch.pid").read_text())
        assert process_alive(watch_pid)  # it outlived its step
        wait_for_sample(work / "artifact" / "watch.jsonl", project)

        runner.run_action(REPO / "report" / "action.yml", {})
        assert not process_alive(watch_pid)
        artifact = Path(runner.outputs["report"]["artifact-path"])
        assert sorted(path.name for path in artifact.iterdir()) == [
            "report.json", "report.txt", "watch.jsonl", "watch.stderr",
        ]  # fmt: skip
        lines = [json.loads(line) for line in (artifact / "watch.jsonl").read_text().splitlines()]
        assert lines[-1]["type"] == "summary"
        services = {row["service"] for row in json.loads((artifact / "report.json").read_text())["services"]}
        assert services == {"small", "tiny"}
        summary = runner.summary.read_text()
        assert "### dockermem: memory history" in summary and "small" in summary
        assert summary.index(f"dockermem up: {project}") < summary.index("dockermem watch")
    finally:
        docker("compose", "-f", str(STACK), "-p", project, "down", "--volumes", "--timeout", "1", check=False)
        pid_file = Path(runner.env.get("DOCKERMEM_ACTION_DIR", "/nonexistent")) / "watch.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):  # the report step stopped it, or it failed
                os.kill(int(pid_file.read_text()), 9)


def test_no_compose_file_fails_the_up_step(runner: Runner) -> None:
    with pytest.raises(AssertionError, match=r"(?s)step up failed \(2\).*compose-files names no file"):
        runner.run_action(REPO / "action.yml", {"compose-files": "\n", "install": "false"})


def process_alive(pid: int) -> bool:
    """Whether the process runs (a zombie, ended but not yet reaped by the shell that started
    it, counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for_sample(jsonl: Path, project: str, timeout: float = 60) -> None:
    """Until the watch has written a sample of the project's containers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in jsonl.read_text().splitlines():
            sample: dict[str, Any] = json.loads(line)
            if sample.get("type") == "sample" and any(
                c.get("project") == project for c in sample["containers"]
            ):
                return
        time.sleep(0.2)
    raise AssertionError(f"no sample of {project} in {timeout:g}s:\n{jsonl.read_text()}")
