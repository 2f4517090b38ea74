"""Shell completion through typer's own protocol (the environment a shell's completion script
sets), as bash, zsh and fish ask it: project names from the engine, service names from the
compose file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.realdocker import ComposeProject, cli_env, memhog_service

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]


def complete(shell: str, words: list[str], cwd: Path) -> list[str]:
    """What `dockermem` offers for the last of `words` (the word being typed; "" for a new one)."""
    line = " ".join(["dockermem", *words])
    env = cli_env(_DOCKERMEM_COMPLETE=f"complete_{shell}")
    if shell == "bash":
        env |= {"COMP_WORDS": line, "COMP_CWORD": str(len(words))}
    else:
        env["_TYPER_COMPLETE_ARGS"] = line
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    done = subprocess.run(
        [sys.executable, "-m", "dockermem"], capture_output=True, text=True, env=env, cwd=cwd, timeout=30
    )
    assert (done.returncode, done.stderr) == (0, ""), done
    return [line for line in done.stdout.splitlines() if line]


def test_project_names_come_from_the_engine(project: ComposeProject, tmp_path: Path) -> None:
    project.services = {"cache": memhog_service(4, "32m", checked=False)}
    project.up()
    assert project.name in complete("bash", ["stats", "-p", ""], tmp_path)
    assert complete("bash", ["health", "--project", project.name[:-3]], tmp_path) == [project.name]
    assert complete("bash", ["health", "-p", "no-such-project-"], tmp_path) == []
    # zsh and fish get the same names, in their own formats.
    assert any(project.name in line for line in complete("zsh", ["watch", "-p", project.name[:-2]], tmp_path))
    assert complete("fish", ["watch", "-p", project.name[:-2]], tmp_path) == [project.name]


def test_service_names_come_from_the_compose_file(project: ComposeProject, tmp_path: Path) -> None:
    project.services = {
        "web": memhog_service(4, "32m", checked=False),
        "worker": memhog_service(4, "32m", checked=False),
        "db": memhog_service(4, "32m", checked=False),
    }
    file = project.write()
    # In the file's order (the test's file lists them sorted).
    assert complete("bash", ["up", "-f", str(file), ""], tmp_path) == ["db", "web", "worker"]
    assert complete("bash", ["up", "-f", str(file), "w"], tmp_path) == ["web", "worker"]
    # A service named already is not offered again; --scale offers SERVICE=.
    assert complete("bash", ["up", "-f", str(file), "web", "w"], tmp_path) == ["worker"]
    assert complete("bash", ["up", "-f", str(file), "--scale", "d"], tmp_path) == ["db="]
    # Without -f: compose's default file in the working directory (here, compose.yaml).
    assert complete("bash", ["up", "d"], file.parent) == ["db"]
    assert complete("fish", ["up", "-f", str(file), "wo"], tmp_path) == ["worker"]


def test_an_engine_that_does_not_answer_offers_nothing(tmp_path: Path) -> None:
    env = cli_env(
        _DOCKERMEM_COMPLETE="complete_bash",
        COMP_WORDS="dockermem stats -p ",
        COMP_CWORD="3",
        DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock",
    )
    done = subprocess.run([sys.executable, "-m", "dockermem"], capture_output=True, text=True, env=env)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "", "")
