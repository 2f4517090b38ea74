"""`docker mem`: dockermem as a docker CLI plugin, through the real docker CLI, in a docker
configuration directory of the test's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockermem.cli.app import COMMANDS
from tests.integration.realdocker import (
    DEFAULT_ENGINE,
    DOCKER_26,
    MEMHOG_IMAGE,
    ROOMY_COUNTS,
    docker,
    run_container,
    unique_name,
)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

SCRIPTS = Path(sys.executable).parent


@pytest.fixture
def docker_config(tmp_path: Path) -> Path:
    return tmp_path / "docker-config"


def run(argv: list[str], docker_config: Path) -> subprocess.CompletedProcess[str]:
    """A command as a user runs it, with the test's docker configuration and no engine chosen
    by the environment."""
    env = {name: value for name, value in os.environ.items() if name not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env |= {**ROOMY_COUNTS, "DOCKER_CONFIG": str(docker_config)}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def installed(docker_config: Path) -> Path:
    """`dockermem install-plugin` run into the test's docker configuration."""
    done = run([str(SCRIPTS / "dockermem"), "install-plugin"], docker_config)
    assert done.returncode == 0, done.stderr
    link = docker_config / "cli-plugins" / "docker-mem"
    assert done.stdout.splitlines()[0] == f"linked: {link} -> {SCRIPTS / 'docker-mem'}"
    return link


def test_install_plugin_links_docker_mem_once(installed: Path, docker_config: Path) -> None:
    assert installed.readlink() == SCRIPTS / "docker-mem"
    again = run([str(SCRIPTS / "dockermem"), "install-plugin"], docker_config)
    assert again.returncode == 0
    assert again.stdout.splitlines()[0] == f"already linked: {installed} -> {SCRIPTS / 'docker-mem'}"


def test_the_docker_cli_lists_mem_and_its_commands(installed: Path, docker_config: Path) -> None:
    docker_help = run(["docker", "--help"], docker_config)
    assert docker_help.returncode == 0, docker_help.stderr
    plugins = [line.split(None, 1) for line in docker_help.stdout.splitlines() if line.startswith("  ")]
    assert ["mem*", "Memory safety for docker compose test stacks (dockermem)"] in plugins
    mem_help = run(["docker", "mem", "--help"], docker_config)
    assert mem_help.returncode == 0, mem_help.stderr
    assert mem_help.stdout.startswith("Usage: docker mem [OPTIONS] COMMAND [ARGS]...")
    listed = [line.split()[0] for line in mem_help.stdout.splitlines() if line.startswith("  ")]
    assert [name for name in listed if name in COMMANDS] == list(COMMANDS)
    assert "--install-completion" not in mem_help.stdout  # the docker CLI completes its plugins
    # Exit codes come through the CLI: a usage error is 2.
    assert run(["docker", "mem", "no-such-command"], docker_config).returncode == 2


@pytest.fixture
def one_container_per_engine() -> Iterator[tuple[str, str]]:
    """A labelled container on the default engine and one on Docker 26: their names."""
    if DOCKER_26.docker("version", check=False).returncode != 0:
        pytest.fail(f"the docker-26 engine does not answer on {DOCKER_26.host}: run scripts/ensure-engines")
    on_default, on_26 = unique_name("dmplugin-default"), unique_name("dmplugin-26")
    try:
        run_container(on_default, [MEMHOG_IMAGE, "memhog", "4"], engine=DEFAULT_ENGINE)
        run_container(on_26, [MEMHOG_IMAGE, "memhog", "4"], engine=DOCKER_26)
        yield on_default, on_26
    finally:
        docker("rm", "-f", on_default, check=False)
        DOCKER_26.docker("rm", "-f", on_26, check=False)


def test_docker_context_and_host_choose_the_engine(
    installed: Path, docker_config: Path, one_container_per_engine: tuple[str, str]
) -> None:
    on_default, on_26 = one_container_per_engine
    context = unique_name("dmplugin")
    made = run(["docker", "context", "create", context, "--docker", f"host={DOCKER_26.host}"], docker_config)
    assert made.returncode == 0, made.stderr

    for chosen in (["--context", context], ["-H", str(DOCKER_26.host)], [f"--context={context}"]):
        done = run(["docker", *chosen, "mem", "stats", "--json"], docker_config)
        assert done.returncode == 0, (chosen, done.stderr)
        document = json.loads(done.stdout)
        names = {container["name"] for container in document["containers"]}
        assert on_26 in names and on_default not in names, chosen
        assert document["engine"]["server_version"].startswith("26."), chosen

    # Without a flag, the CLI's current context: the default engine.
    default = json.loads(run(["docker", "mem", "stats", "--json"], docker_config).stdout)
    names = {container["name"] for container in default["containers"]}
    assert on_default in names and on_26 not in names
