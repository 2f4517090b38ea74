"""The cgroup fast path against `docker stats` on real containers holding still."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockermem.docker.cgroup import CgroupReader, OpenCgroupFiles
from tests.integration.realdocker import (
    MIB,
    ComposeProject,
    docker,
    dockermem,
    inspect,
    memhog_service,
    run_container,
    unique_name,
)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]


@pytest.fixture(scope="module")
def still_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeProject]:
    project = ComposeProject(unique_name("dmfast"), tmp_path_factory.mktemp("fast") / "compose.yaml")
    project.services = {
        "small": memhog_service(8, "64m", checked=False),
        "large": memhog_service(120, "256m", checked=False),
        "nolimit": memhog_service(30, None, checked=False),
    }
    try:
        project.up()
        project.wait_ready()
        time.sleep(1)  # let the readiness probe's exec leave the cgroups
        yield project
    finally:
        project.down()


def stats(project: str, **extra: str) -> dict[str, object]:
    env = {**os.environ, "DOCKER_MAX_CONTAINERS": "100000", **extra}
    result = dockermem("stats", "--json", "-p", project, env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def test_both_paths_agree_within_one_percent_or_one_mib(still_stack: ComposeProject) -> None:
    fast = stats(still_stack.name)
    slow = stats(still_stack.name, DOCKERMEM_FAST_PATH="0")
    assert fast["source"] == "cgroup"
    assert slow["source"] == "docker-stats"
    fast_by = {c["service"]: c for c in fast["containers"]}  # type: ignore[attr-defined]
    slow_by = {c["service"]: c for c in slow["containers"]}  # type: ignore[attr-defined]
    assert set(fast_by) == set(slow_by) == {"small", "large", "nolimit"}
    for service in fast_by:
        a, b = fast_by[service]["memory_usage_bytes"], slow_by[service]["memory_usage_bytes"]
        assert abs(a - b) <= max(0.01 * b, MIB), (service, a / MIB, b / MIB)
        assert fast_by[service]["memory_limit_bytes"] == slow_by[service]["memory_limit_bytes"]
    assert fast_by["large"]["memory_limit_bytes"] == 256 * MIB
    assert fast_by["nolimit"]["memory_limit_bytes"] is None
    assert abs(fast_by["large"]["memory_usage_bytes"] - 120 * MIB) <= 12 * MIB


def test_falls_back_to_docker_stats_when_the_cgroup_cannot_be_read(
    still_stack: ComposeProject, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    unreadable = {"DOCKERMEM_PROC_ROOT": str(empty), "DOCKERMEM_CGROUP_ROOT": str(empty)}
    document = stats(still_stack.name, **unreadable)
    assert document["source"] == "docker-stats"
    assert len(document["containers"]) == 3  # type: ignore[arg-type]
    health = json.loads(
        dockermem("health", "--json", "-p", still_stack.name, env={**os.environ, **unreadable}).stdout
    )
    assert health["source"] == "docker-stats"


def test_files_kept_open_read_fresh_figures_and_are_closed_when_the_container_goes() -> None:
    """A watch reads each container's files through descriptors kept open: the figures must
    still follow the container's memory, and a removed container must leave none behind."""
    name = unique_name("dmopen")
    container_id = run_container(name, ["--memory", "256m", "dockermem/memhog:test", "memhog", "0", "20"])
    open_files = OpenCgroupFiles()
    reader = CgroupReader(open_files=open_files)
    try:
        location = reader.guess(container_id) or reader.locate(
            container_id,
            int(str(inspect(container_id)["State"]["Pid"])),  # type: ignore[index]
        )
        assert location is not None
        first = reader.read(location)
        time.sleep(1.5)
        second = reader.read(location, first)  # as a watch's tick: the limit taken from before
        assert first is not None and second is not None
        assert len(open_files) == 5  # usage, memory.stat, limit, OOM and CPU files, opened once
        grown = (second.memory_usage_bytes - first.memory_usage_bytes) / MIB
        assert 20 <= grown <= 40, grown  # it grows 20 MiB/s: the open files are read afresh
        assert first.memory_limit_bytes == 256 * MIB
        docker("update", "--memory", "512m", "--memory-swap", "1g", name)
        full = reader.read(location)  # a full read, through the same descriptors
        assert full is not None and full.memory_limit_bytes == 512 * MIB
        assert len(open_files) == 5
    finally:
        docker("rm", "-f", name)
    assert reader.read(location) is None  # the cgroup is gone
    assert len(open_files) == 0


def test_cpu_is_measured_on_the_fast_path() -> None:
    """A container spinning on one core shows up to 100 % CPU (on a loaded 2-core machine, what
    the scheduler gives it: a fifth at the least); an idle one about none. Wrong units or a
    window of the wrong length would put the figure far outside these bounds."""
    busy, idle = unique_name("dmbusy"), unique_name("dmidle")
    project = unique_name("dmcpu")
    labels = {"com.docker.compose.project": project}
    try:
        run_container(busy, ["dockermem/memhog:test", "sh", "-c", "while :; do :; done"], labels=labels)
        run_container(idle, ["dockermem/memhog:test", "memhog", "1"], labels=labels)
        time.sleep(1)
        document = stats(project)
        assert document["source"] == "cgroup"
        cpu = {c["name"]: c["cpu_percent"] for c in document["containers"]}  # type: ignore[attr-defined]
        assert 15 <= cpu[busy] <= 110, cpu
        assert cpu[idle] < 5, cpu
    finally:
        docker("rm", "-f", busy, idle)
