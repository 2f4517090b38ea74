"""Every door opens the same session: a run through the CLI's `up`, the Python API and the
pytest plugin is recorded in the history that `report` reads, and `watch --json` and the API's
`stack.events()` tell the same happening with the same event type."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

import dockermem
from dockermem.core.events import Event, EventType
from tests.conftest import REPO
from tests.integration.realdocker import JsonLines, cli_env
from tests.integration.realdocker import dockermem as run_dockermem

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine", "roomy_counts")]
pytest_plugins = ["pytester"]
FITS = REPO / "compose/test/fits.yaml"
OOM_STACK = (
    "services:\n  worker:\n    image: dockermem/memhog:test\n    command: [memhog, '4']\n"
    "    network_mode: none\n    mem_limit: 64m\n    memswap_limit: 64m\n"
)


def reported_projects() -> set[str]:
    result = run_dockermem("report", "--since", "1h", "--json", env=cli_env())
    assert result.returncode == 0, result.stderr
    return {service["project"] for service in json.loads(result.stdout)["services"]}


def test_a_run_through_the_api_is_in_the_history() -> None:
    async def main() -> str:
        async with dockermem.stack(FITS, project="dmdoor-api") as stack:
            await stack.session.next_frame()
            return stack.project

    project = anyio.run(main)
    # A dedicated stack runs under a name of its own, and is recorded as the stack it is.
    assert project.startswith("dmdoor-api-") and project not in reported_projects()
    assert "dmdoor-api" in reported_projects()


def test_a_run_through_the_pytest_plugin_is_in_the_history(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one(dockermem_stack):\n    assert dockermem_stack.project\n")
    result = pytester.runpytest_subprocess(
        "--dockermem",
        str(FITS),
        "--dockermem-project",
        "dmdoor-plugin",
        "-p",
        "no:cacheprovider",
        timeout=300,
    )
    result.assert_outcomes(passed=1)
    assert "dmdoor-plugin" in reported_projects()


def test_an_up_healthy_before_its_first_interval_is_in_the_history() -> None:
    project = "dmdoor-up"
    try:
        result = run_dockermem(
            "up",
            "-f",
            str(FITS),
            "-p",
            project,
            env=cli_env(DOCKERMEM_SAMPLE_INTERVAL_SECONDS="60"),
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert project in reported_projects()
    finally:
        subprocess.run(
            ["docker", "compose", "-f", str(FITS), "-p", project, "down", "-t", "1"], capture_output=True
        )


def test_watch_json_and_the_api_tell_an_oom_kill_alike(tmp_path: Path) -> None:
    compose = tmp_path / "stack.yaml"
    compose.write_text(OOM_STACK)
    api_events: list[Event] = []
    watched: list[JsonLines] = []

    async def main() -> None:
        async with dockermem.stack(compose, project="dmdoor-events") as stack:
            watcher = await anyio.open_process(
                [
                    sys.executable,
                    "-m",
                    "dockermem",
                    "watch",
                    "--json",
                    "-p",
                    stack.project,
                    "--interval",
                    "0.25",
                ],
                env=cli_env(),
            )
            try:
                async with anyio.create_task_group() as tasks:
                    api_oom_seen = anyio.Event()

                    async def listen() -> None:
                        async for event in stack.events():
                            api_events.append(event)
                            if event.type is EventType.OOM:
                                api_oom_seen.set()

                    tasks.start_soon(listen)
                    assert watcher.stdout is not None
                    lines = JsonLines(watcher.stdout)
                    watched.append(lines)
                    with anyio.fail_after(60):
                        # The watch is following the engine once its first sample is out.
                        await lines.until('"type": "sample"')
                        await anyio.run_process(
                            ["docker", "compose", "-f", str(compose), "-p", stack.project,
                             "exec", "-T", "worker", "memhog", "200"], check=False,
                        )  # fmt: skip
                        await lines.until('"type": "oom"')
                        await api_oom_seen.wait()
                    tasks.cancel_scope.cancel()
            finally:
                watcher.terminate()
                await watcher.wait()

    anyio.run(main)
    watch_lines = watched[0].lines
    api_oom = [event for event in api_events if event.type is EventType.OOM]
    watch_oom = [line for line in watch_lines if line["type"] == "oom"]
    assert len(api_oom) == len(watch_oom) == 1
    assert (watch_oom[0]["container"], watch_oom[0]["service"]) == (api_oom[0].container, api_oom[0].service)
    vocabulary = {kind.value for kind in EventType} | {"sample", "summary"}
    assert {line["type"] for line in watch_lines} <= vocabulary
