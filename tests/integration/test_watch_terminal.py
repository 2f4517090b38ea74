"""`watch` in a real terminal of 80x24 (tmux): the containers show, `s` changes the sort the
header names, `/` filters the rows, and `q` ends the watch with exit 0 and the peaks."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.realdocker import ComposeProject, cli_env, memhog_service, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]


class Terminal:
    """A tmux server of the test's own (its socket in the test's folder) with one session of 80x24."""

    def __init__(self, socket: Path) -> None:
        self.socket = str(socket)

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        # The terminal's own size, not the tests' COLUMNS (which rich would take over it).
        env = {name: value for name, value in cli_env().items() if name not in ("COLUMNS", "LINES")}
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=True,
                              timeout=30, env=env)  # fmt: skip

    def start(self, command: str, directory: Path) -> None:
        self.tmux("new-session", "-d", "-s", "watch", "-x", "80", "-y", "24", "-c", str(directory), command)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "watch").stdout

    def press(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "watch", *keys)

    def shows(self, predicate: object, what: str, timeout: float = 60) -> str:
        """The screen once `predicate(screen)` holds (else a failure that shows the screen)."""
        seen: list[str] = [""]

        def holds() -> bool:
            seen[0] = self.screen()
            return bool(predicate(seen[0]))  # type: ignore[operator]

        try:
            wait_until(holds, timeout, what)
        except AssertionError:
            raise AssertionError(f"timed out waiting for {what}; the screen:\n{seen[0]}") from None
        return seen[0]

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=30, check=False
        )


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    opened = Terminal(tmp_path / "tmux.sock")
    try:
        yield opened
    finally:
        opened.close()


def test_keys_sort_filter_and_quit_in_a_terminal_of_80_columns(
    project: ComposeProject, terminal: Terminal, tmp_path: Path
) -> None:
    api = memhog_service(30, "128m", checked=False)
    api["deploy"] = {"replicas": 2}
    project.services = {"api": api, "db": memhog_service(20, "64m", checked=False)}
    project.up()
    exit_file = tmp_path / "exit"
    watch = shlex.join([sys.executable, "-m", "dockermem", "watch", "-p", project.name, "--interval", "0.5"])
    terminal.start(f"{watch}; echo EXIT=$? > {shlex.quote(str(exit_file))}; sleep 600", tmp_path)

    screen = terminal.shows(lambda s: all(f"{name} " in s for name in ("api-1", "api-2", "db-1")), "the rows")
    assert f"project {project.name}" in screen
    assert "sort: memory %" in screen
    assert all(len(line) <= 80 for line in screen.splitlines())

    terminal.press("s")
    terminal.shows(lambda s: "sort: growth" in s, "the sort by growth")

    terminal.press("/", "d", "b", "Enter")
    screen = terminal.shows(lambda s: "filter: db " in s and "api-1 " not in s, "the filtered rows")
    assert "db-1 " in screen and "api-2 " not in screen and "1 of 3 containers" in screen

    terminal.press("q")
    wait_until(exit_file.exists, 60, "the watch to end")
    assert exit_file.read_text().strip() == "EXIT=0"
    screen = terminal.shows(lambda s: "PEAKS" in s, "the peaks")
    for replica in ("api-1", "api-2", "db-1"):
        assert f"{project.name}-{replica}" in screen
    assert "interrupted" not in screen
