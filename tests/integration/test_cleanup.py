"""`cleanup` removes the stopped resources in scope, and nothing else (on every engine of the
matrix: its scenes are made on the engine the test runs on)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ReliabilityRecorder
from tests.integration.realdocker import (
    ComposeProject,
    Engine,
    cli_env,
    dockermem,
    memhog_service,
    run_container,
    unique_name,
)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]


def exists(engine: Engine, kind: str, name: str) -> bool:
    return engine.docker(kind, "inspect", name, check=False).returncode == 0


@pytest.fixture
def scene(engine: Engine, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Project A (in scope) with a stopped and a running service, an anonymous and a named
    volume and a network; project B (out of scope) with a stopped service; a container with
    only A's project label; a plain container. On the test's engine."""
    docker = engine.docker
    checked = engine.runs_health_checks
    a = ComposeProject(unique_name("dmclean-a"), tmp_path / "a.yaml", engine=engine)
    stopped = memhog_service(1, "32m", checked=checked)
    stopped["volumes"] = ["/scratch", "data:/data"]
    a.services = {"stopped": stopped, "running": memhog_service(1, "32m", checked=checked)}
    a.write()
    text = a.file.read_text() + "volumes:\n  data: {}\n"
    a.file.write_text(text)
    b = ComposeProject(unique_name("dmclean-b"), tmp_path / "b.yaml", engine=engine)
    b.services = {"stopped": memhog_service(1, "32m", checked=checked)}
    names: dict[str, str] = {"a": a.name, "b": b.name}
    try:
        a.compose("up", "-d", "--wait")
        b.up()
        a.compose("stop", "--timeout", "1", "stopped")
        b.compose("stop", "--timeout", "1", "stopped")
        names["a_stopped"] = a.container_id("stopped")
        names["a_running"] = a.container_id("running")
        names["b_stopped"] = b.container_id("stopped")
        anonymous = [
            m["Name"]
            for m in json.loads(docker("inspect", names["a_stopped"]).stdout)[0]["Mounts"]
            if m["Destination"] == "/scratch"
        ]
        names["anonymous_volume"] = anonymous[0]
        names["named_volume"] = f"{a.name}_data"
        network = f"{a.name}_spare"
        docker(
            "network", "create", "--internal",
            "--label", f"com.docker.compose.project={a.name}",
            "--label", "com.docker.compose.network=spare",
            network,
        )  # fmt: skip
        names["network"] = network
        label_only = unique_name("dmclean-labelonly")
        run_container(
            label_only, ["dockermem/memhog:test", "true"], labels={"com.docker.compose.project": a.name},
            engine=engine,
        )  # fmt: skip
        names["label_only"] = label_only
        plain = unique_name("dmclean-plain")
        run_container(plain, ["dockermem/memhog:test", "true"], engine=engine)
        names["plain"] = plain
        docker("wait", label_only)
        docker("wait", plain)
        # A sweep leaves what was made in its own second (docker gives creation times in whole
        # seconds): let the scene be older than that.
        time.sleep(1.2)
        yield names
    finally:
        a.down()
        b.down()
        docker("rm", "-f", names.get("label_only", "x"), names.get("plain", "x"), check=False)
        docker("network", "rm", names.get("network", "x"), check=False)
        docker("volume", "rm", names.get("named_volume", "x"), check=False)


def test_cleanup_removes_stopped_in_scope_and_nothing_else(
    scene: dict[str, str], engine: Engine, tmp_path: Path, reliability: ReliabilityRecorder
) -> None:
    env = engine.env(DOCKERMEM_STATE_DIR=str(tmp_path / "state"))
    dry = dockermem("cleanup", "-p", scene["a"], "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert [c["id"] for c in plan["containers"]] == [scene["a_stopped"]]
    assert plan["projects_found"] == [scene["a"]]
    written = plan["containers"][0]["writable_bytes"]
    assert isinstance(written, int) and written >= 0, written  # every engine of the matrix gives it
    assert plan["networks"] == []  # project A still has a running container
    assert plan["volumes"] == []
    told = dockermem("cleanup", "-p", scene["a"], "--dry-run", env={**env, "COLUMNS": "200"})
    assert "Frees 1 container (stopped: no memory" in told.stdout, told.stdout
    assert "Dry run: nothing was removed." in told.stdout
    on_engine = f"DOCKER_HOST={engine.host} " if engine.host else ""  # the engine it ran on, named
    assert f"To remove these: {on_engine}dockermem cleanup -p {scene['a']} --yes" in told.stdout, told.stdout
    every = ["a_stopped", "a_running", "b_stopped", "label_only", "plain"]
    assert all(exists(engine, "container", scene[key]) for key in every), "--dry-run changed something"

    result = dockermem("cleanup", "-p", scene["a"], "--yes", "--json", env=env)
    assert result.returncode == 0, result.stderr
    removed = json.loads(result.stdout)["removed"]
    survivors = [
        key
        for key in ("a_running", "b_stopped", "label_only", "plain")
        if exists(engine, "container", scene[key])
    ]
    reliability(
        "engines", f"{engine.name}: `cleanup -p A --yes` beside a running service of A, a stopped one of B, "
        "a container with only A's label and a plain one",
        "A's stopped container and its anonymous volume removed, nothing else",
        f"removed {len(removed['containers'])} container(s), {len(removed['volumes'])} volume(s); "
        f"{len(survivors)} of 4 others kept",
    )  # fmt: skip
    assert removed["containers"] == [scene["a_stopped"]]
    assert not exists(engine, "container", scene["a_stopped"])
    assert not exists(engine, "volume", scene["anonymous_volume"])
    assert len(survivors) == 4, survivors
    assert exists(engine, "volume", scene["named_volume"])
    assert exists(engine, "network", scene["network"])

    stats = json.loads(dockermem("stats", "--json", "-p", scene["a"], env=env).stdout)
    assert stats["cleanup"]["cleanup_runs"] == 1
    assert stats["cleanup"]["containers_removed"] == 1


def test_cleanup_of_a_stopped_project_takes_its_network_and_with_volumes_its_named_volume(
    scene: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    engine.docker("stop", "--time", "1", scene["a_running"])
    env = engine.env(DOCKERMEM_STATE_DIR=str(tmp_path / "state"))
    result = dockermem("cleanup", "-p", scene["a"], "--volumes", "--yes", env=env)
    assert result.returncode == 0, result.stderr
    assert not exists(engine, "container", scene["a_running"]), result.stdout
    assert not exists(engine, "network", scene["network"]), result.stdout
    assert not exists(engine, "volume", scene["named_volume"])
    assert exists(engine, "container", scene["label_only"])
    assert exists(engine, "container", scene["b_stopped"])


def test_a_project_that_does_not_exist_is_said_so() -> None:
    typo = unique_name("dmclean-typo")
    said = dockermem("cleanup", "-p", typo, "--yes", env=cli_env(COLUMNS="200"))
    assert said.returncode == 0, said.stderr
    assert (
        f"No compose project named '{typo}': no container, network or volume carries its label" in said.stdout
    )
    document = json.loads(dockermem("cleanup", "-p", typo, "--dry-run", "--json", env=cli_env()).stdout)
    assert document["projects_found"] == [] and document["containers"] == []


def test_cleanup_needs_a_scope_and_refuses_bad_names() -> None:
    assert dockermem("cleanup", "--yes").returncode == 2
    refused = dockermem("cleanup", "-p", "--all", "--yes")
    assert refused.returncode == 2
    assert dockermem("cleanup", "-p", "$(reboot)", "--yes").returncode == 2


def test_cleanup_without_yes_off_a_terminal_removes_nothing(scene: dict[str, str], engine: Engine) -> None:
    result = dockermem("cleanup", "-p", scene["a"], env=engine.env())
    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert exists(engine, "container", scene["a_stopped"])
