"""The Python API on the real engine: dedicated and shared stacks, snapshots, reports, events,
and errors that come out as themselves."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import pytest

import dockermem
from dockermem.core.events import Event, EventType
from tests.conftest import REPO
from tests.integration.realdocker import MIB, docker

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine", "roomy_counts")]
FITS = REPO / "compose/test/fits.yaml"


def containers_of(project: str) -> list[str]:
    return docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").stdout.split()


def test_dedicated_stack_reports_and_is_brought_down() -> None:
    async def main() -> str:
        async with dockermem.stack(FITS) as stack:
            assert stack.project.startswith("dockermem-fits-")
            snapshot = await stack.snapshot()
            by_service = {c.service: c for c in snapshot.containers}
            assert set(by_service) == {"small", "tiny"}
            assert by_service["small"].memory_limit_bytes == 64 * MIB
            assert abs(by_service["small"].memory_usage_bytes - 8 * MIB) <= 3 * MIB
            assert "DOCKERMEM HEALTH REPORT" in stack.health_report()
            statistics = stack.statistics()
            assert statistics["schema"] == 1 and len(statistics["containers"]) == 2
            assert len(containers_of(stack.project)) == 2
            services = await stack.services()
            assert sorted((c.service, c.state, c.health) for c in services) == [
                ("small", "running", "healthy"),
                ("tiny", "running", "healthy"),
            ]
            return stack.project

    project = anyio.run(main)
    assert containers_of(project) == []


def test_an_error_in_the_block_comes_out_as_itself_and_the_stack_still_goes() -> None:
    seen: list[str] = []

    async def main() -> None:
        async with dockermem.stack(FITS) as stack:
            seen.append(stack.project)
            raise ValueError("the test's own failure")

    with pytest.raises(ValueError, match="the test's own failure"):
        anyio.run(main)
    assert containers_of(seen[0]) == []


def test_shared_stack_is_left_up() -> None:
    project = "dmapi-shared"
    try:
        with dockermem.sync.stack(FITS, project=project, environment="shared") as stack:
            assert stack.project == project
            assert len(stack.snapshot().containers) == 2
        assert len(containers_of(project)) == 2
    finally:
        subprocess.run(
            ["docker", "compose", "-f", str(FITS), "-p", project, "down", "-t", "1"], capture_output=True
        )


def test_a_stack_that_does_not_fit_raises_with_the_advice() -> None:
    with pytest.raises(dockermem.PreflightFailedError) as caught:
        with dockermem.sync.stack(REPO / "compose/test/huge.yaml"):
            pass
    assert caught.value.result.ok is False
    assert "short by" in str(caught.value)
    assert caught.value.exit_code == 1


def test_events_bring_an_oom_kill_as_it_happens(tmp_path: Path) -> None:
    compose = tmp_path / "stack.yaml"
    compose.write_text(
        "services:\n  worker:\n    image: dockermem/memhog:test\n    command: [memhog, '4']\n"
        "    network_mode: none\n    mem_limit: 64m\n    memswap_limit: 64m\n"
    )

    async def main() -> Event:
        async with dockermem.stack(compose, project="dmapi-events") as stack:
            with anyio.fail_after(60):
                async with anyio.create_task_group() as tasks:
                    found: list[Event] = []

                    async def listen() -> None:
                        async for event in stack.events():
                            if event.type is EventType.OOM:
                                found.append(event)
                                tasks.cancel_scope.cancel()

                    tasks.start_soon(listen)
                    await anyio.sleep(1)
                    await anyio.run_process(
                        ["docker", "compose", "-f", str(compose), "-p", stack.project,
                         "exec", "-T", "worker", "memhog", "200"], check=False,
                    )  # fmt: skip
            return found[0]

    event = anyio.run(main)
    assert event.service == "worker"
