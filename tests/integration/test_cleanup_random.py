"""Cleanup tried many ways: randomized rounds of projects in and out of scope, running and
stopped containers, named and anonymous volumes, containers carrying only a copied project
label; and a resource made while the sweep runs."""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ReliabilityRecorder
from tests.integration.realdocker import (
    ComposeProject,
    docker,
    dockermem,
    finish,
    memhog_service,
    run_container,
)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]
ROUNDS = 3


def inventory(prefix: str) -> dict[str, dict[str, str]]:
    """Every container (id -> state), volume and network whose name starts with the prefix."""
    containers = {}
    for line in docker(
        "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}"
    ).stdout.splitlines():
        container_id, name, state = line.split()
        if name.startswith(prefix):
            containers[container_id] = state
    volumes = {name: "" for name in docker("volume", "ls", "-q").stdout.split() if name.startswith(prefix)}
    networks = {name: "" for name in docker("network", "ls", "--format", "{{.Name}}").stdout.split()
                if name.startswith(prefix)}  # fmt: skip
    return {"containers": containers, "volumes": volumes, "networks": networks}


def project_of(container_id: str) -> tuple[str, bool]:
    labels = json.loads(docker("inspect", "--format", "{{json .Config.Labels}}", container_id).stdout) or {}
    compose_made = "com.docker.compose.project.working_dir" in labels
    return labels.get("com.docker.compose.project", ""), compose_made


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_randomized_cleanup_removes_exactly_the_stopped_resources_in_scope(
    seed: int, tmp_path: Path, reliability: ReliabilityRecorder
) -> None:
    rng = random.Random(seed)
    prefix = f"dmrand{seed}{rng.randrange(10**6):06d}"
    projects: list[ComposeProject] = []
    extra: list[str] = []
    try:
        for index in range(4):
            in_scope = index < 2 or rng.random() < 0.3
            name = f"{prefix}-{'in' if in_scope else 'out'}-{index}"
            project = ComposeProject(name, tmp_path / f"{name}.yaml")
            for service_index in range(rng.randint(1, 3)):
                service = memhog_service(1, "32m", checked=False)
                if rng.random() < 0.5:
                    service["volumes"] = ["/scratch"] + (["data:/data"] if rng.random() < 0.5 else [])
                project.services[f"s{service_index}"] = service
            project.write()
            if any("data:/data" in s.get("volumes", []) for s in project.services.values()):  # type: ignore[operator]
                project.file.write_text(project.file.read_text() + "volumes:\n  data: {}\n")
            project.compose("up", "-d")
            for service_name in project.services:
                if rng.random() < 0.6:
                    project.compose("stop", "--timeout", "1", service_name)
            projects.append(project)
            if in_scope and rng.random() < 0.7:
                copied = f"{name}-copied-label"
                run_container(
                    copied, ["dockermem/memhog:test", "true"], labels={"com.docker.compose.project": name}
                )
                extra.append(copied)
        plain = f"{prefix}-plain"
        run_container(plain, ["dockermem/memhog:test", "true"])
        extra.append(plain)
        time.sleep(1.2)  # the sweep removes only what is older than its own start (whole seconds)

        scope = f"{prefix}-in-*"
        before = inventory(prefix)
        owners = {container_id: project_of(container_id) for container_id in before["containers"]}
        dry = dockermem("cleanup", "--all-projects", scope, "--dry-run", "--json")
        assert dry.returncode == 0, dry.stderr
        assert inventory(prefix) == before, "--dry-run changed something"

        with_volumes = rng.random() < 0.5
        args = ["cleanup", "--all-projects", scope, "--yes", "--json"] + (
            ["--volumes"] if with_volumes else []
        )
        result = dockermem(*args)
        assert result.returncode == 0, result.stderr
        after = inventory(prefix)

        expected_gone = set()
        for container_id, state in before["containers"].items():
            owner, compose_made = owners[container_id]
            if owner.startswith(f"{prefix}-in-") and compose_made and state in ("exited", "created"):
                expected_gone.add(container_id)
        gone = set(before["containers"]) - set(after["containers"])
        reliability(
            "cleanup",
            f"randomized round {seed}: {len(projects)} projects, {len(before['containers'])} containers, "
            f"--volumes={with_volumes}",
            "exactly the stopped compose containers in scope removed",
            f"{len(gone)} removed of {len(expected_gone)} expected; out of scope kept: "
            f"{not (gone - expected_gone)}",
        )  # fmt: skip
        assert gone == expected_gone
        for container_id in after["containers"]:
            assert after["containers"][container_id] == before["containers"][container_id]
        for volume in before["volumes"]:
            in_scope = volume.startswith(f"{prefix}-in-")
            named = volume.endswith("_data")
            if not (in_scope and named and with_volumes):
                if named or not in_scope:
                    assert volume in after["volumes"], volume
        for network in before["networks"]:
            if not network.startswith(f"{prefix}-in-"):
                assert network in after["networks"]
    finally:
        for project in projects:
            project.down()
        if extra:
            docker("rm", "-f", *extra, check=False)


def test_a_resource_made_while_the_sweep_runs_survives_it(
    tmp_path: Path, reliability: ReliabilityRecorder
) -> None:
    # A docker that pauses the sweep's listing so that the test can make a container meanwhile:
    # the real docker answers every call; only the timing is arranged.
    real = subprocess.run(["sh", "-c", "command -v docker"], capture_output=True, text=True).stdout.strip()
    wrapper = tmp_path / "docker"
    wrapper.write_text(
        f'#!/bin/sh\nif [ "$1" = "ps" ]; then touch {tmp_path}/sweeping; sleep 3; fi\nexec {real} "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    project = ComposeProject(f"dmsweep{os.getpid()}", tmp_path / "compose.yaml")
    project.services = {
        "old": memhog_service(1, "32m", checked=False),
        "new": memhog_service(1, "32m", checked=False),
    }
    try:
        project.write()
        project.compose("create", "old")
        time.sleep(1.2)
        sweep = subprocess.Popen(
            [sys.executable, "-m", "dockermem", "cleanup", "-p", project.name, "--yes", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "DOCKERMEM_DOCKER_BINARY": str(wrapper)},
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not (tmp_path / "sweeping").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        project.compose("create", "new")  # made after the sweep began, before it lists
        out, err = finish(sweep, 60)
        removed = json.loads(out)["removed"]["containers"]
        survivor = project.container_id("new")
        reliability(
            "cleanup", "a compose container made while a cleanup of its project runs",
            "it survives; the older stopped one is removed",
            f"removed {len(removed)}; the new one {'survived' if survivor else 'was removed'}",
        )  # fmt: skip
        assert sweep.returncode == 0, err
        assert survivor, "the container made during the sweep was removed"
        assert project.container_id("old") == ""
    finally:
        project.down()
