"""The command table: `--help` lists every command, and building them all (which `--help`
does, for their short help) loads none of the monitoring machinery, so that it starts fast."""

from __future__ import annotations

import subprocess
import sys

from dockermem.cli.app import COMMANDS

# Modules only a running command needs; `dockermem --help` must not pay for them.
RUN_TIME_MODULES = (
    "dockermem.core.session",
    "dockermem.core.judge",
    "dockermem.core.lifecycle",
    "dockermem.docker.client",
    "anyio",
    "rich.live",
    "psutil",
    "yaml",
)


def run_help(option: str = "--help") -> subprocess.CompletedProcess[str]:
    code = (
        f"import sys; sys.argv = ['dockermem', {option!r}]\n"
        "from dockermem.cli.startup import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', sorted(m for m in {RUN_TIME_MODULES!r} if m in sys.modules))"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_help_lists_every_command_in_order() -> None:
    listed = [line.split()[0] for line in run_help().stdout.splitlines() if line.startswith("  ")]
    assert [name for name in listed if name in COMMANDS] == list(COMMANDS)


def test_help_loads_no_run_time_module() -> None:
    last = run_help().stdout.strip().splitlines()[-1]
    assert last == "LOADED []"


def test_version_is_printed_without_loading_a_command() -> None:
    from dockermem import __version__

    for option in ("--version", "-V"):
        lines = run_help(option).stdout.strip().splitlines()
        assert lines == [f"dockermem {__version__}", "LOADED []"]
        done = subprocess.run([sys.executable, "-m", "dockermem", option], capture_output=True, text=True)
        assert (done.returncode, done.stdout, done.stderr) == (0, f"dockermem {__version__}\n", "")
