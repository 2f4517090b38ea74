"""The compose files completion reads, and the services it finds in them, from files on disk;
and the completion options typer adds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dockermem.core.completion import compose_files_to_read, compose_service_names


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_files_given_with_f_are_read_in_their_order(tmp_path: Path) -> None:
    files = compose_files_to_read([Path("b.yaml"), Path("/abs/a.yaml")], tmp_path, environ={})
    assert files == [tmp_path / "b.yaml", Path("/abs/a.yaml")]


def test_without_f_compose_file_comes_first_then_the_default_file(tmp_path: Path) -> None:
    write(tmp_path / "docker-compose.yml", "services: {}")
    assert compose_files_to_read([], tmp_path, environ={}) == [tmp_path / "docker-compose.yml"]
    environ = {"COMPOSE_FILE": "one.yaml;two.yaml", "COMPOSE_PATH_SEPARATOR": ";"}
    expected = [tmp_path / "one.yaml", tmp_path / "two.yaml"]
    assert compose_files_to_read([], tmp_path, environ=environ) == expected


def test_the_default_file_is_compose_yaml_first_with_its_override(tmp_path: Path) -> None:
    for name in ("compose.yaml", "docker-compose.yaml", "compose.override.yaml"):
        write(tmp_path / name, "services: {}")
    assert compose_files_to_read([], tmp_path, environ={}) == [
        tmp_path / "compose.yaml",
        tmp_path / "compose.override.yaml",
    ]
    assert compose_files_to_read([], tmp_path / "nowhere", environ={}) == []


def test_services_of_several_files_each_once_in_order(tmp_path: Path) -> None:
    base = write(tmp_path / "base.yaml", "services:\n  web: {image: x}\n  db: {image: y}\n")
    extra = write(tmp_path / "extra.yaml", "services:\n  db: {mem_limit: 1g}\n  cache: {image: z}\n")
    assert compose_service_names([base, extra]) == ["web", "db", "cache"]


def test_unreadable_files_add_no_service(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.yaml", "services: [unclosed\n")
    listed = write(tmp_path / "list.yaml", "- a\n- b\n")
    no_services = write(tmp_path / "none.yaml", "name: empty\n")
    good = write(tmp_path / "good.yaml", "services:\n  only: {}\n")
    assert compose_service_names([tmp_path / "missing.yaml", broken, listed, no_services, good]) == ["only"]


def test_show_completion_prints_typer_s_script_for_each_shell() -> None:
    env = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1", "PATH": "/usr/bin:/bin"}
    for shell in ("bash", "zsh", "fish"):
        shown = subprocess.run(
            [sys.executable, "-m", "dockermem", "--show-completion", shell],
            capture_output=True,
            text=True,
            env=env,
        )
        assert shown.returncode == 0, shown.stderr
        assert f"_DOCKERMEM_COMPLETE=complete_{shell}" in shown.stdout.replace(" ", "")
