"""The dockermem command: wires the subcommands together.

A command's module is imported, and its click command built, only when that command is asked
for: typer builds a command by evaluating the annotations of all its options, and building all
of them cost every run some 15 ms. `--help` still lists them all (it builds each, for its short
help).
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections import deque
from collections.abc import Iterator, MutableMapping
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

# Each is the module dockermem.cli.<name> with a function <name> ('-' read as '_'); this is the
# order of --help.
COMMANDS = (
    "preflight", "up", "watch", "health", "stats", "cleanup", "report", "fit", "schema", "install-plugin",
)  # fmt: skip


def build_command(name: str) -> typer.core.TyperCommand:
    """The click command of `dockermem <name>`, made from its module's function."""
    python_name = name.replace("-", "_")
    function = getattr(importlib.import_module(f"dockermem.cli.{python_name}"), python_name)
    single = typer.Typer(add_completion=False, rich_markup_mode=None)
    single.command(name)(function)
    command = typer.main.get_command(single)
    assert isinstance(command, typer.core.TyperCommand)
    return command


class CommandTable(MutableMapping[str, Any]):
    """Command name to click command, each built on first use. Its keys are every name, so
    that listing and "Did you mean" suggestions need no command built."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = build_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        raise TypeError(f"dockermem's commands are the modules of dockermem.cli, not {name!r}")

    def __delitem__(self, name: str) -> None:
        raise TypeError(f"dockermem's commands are the modules of dockermem.cli, not {name!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class LazyGroup(TyperGroup):
    """The top-level group, its commands in a `CommandTable`."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        assert not self.commands, "dockermem's commands are listed in COMMANDS, not registered"
        self.commands = CommandTable()


app = typer.Typer(
    name="dockermem",
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # Plain help: rendering it with rich costs more than the 200 ms a --help may take.
    rich_markup_mode=None,
)


def _print_version(asked: bool) -> None:
    if asked:
        from dockermem import __version__

        print(f"dockermem {__version__}")
        raise typer.Exit()


@app.callback()
def dockermem(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Memory safety for docker compose test stacks."""


def main(prog_name: str = "dockermem", shell_completion: bool = True) -> None:
    """The command line, run by the `dockermem` script and `python -m dockermem` (through
    `cli.startup`) under the name `dockermem` (which also keys shell completion's
    `_DOCKERMEM_COMPLETE`). `shell_completion=False` leaves out --install-completion and
    --show-completion (`docker mem`: the docker CLI completes its plugins itself)."""
    # Typer has no public switch for it once the app is made; the group is built on the call.
    app._add_completion = shell_completion
    try:
        if "--json" in sys.argv[1:]:
            _run_with_usage_errors_in_json(prog_name)
        else:
            app(prog_name=prog_name)
    finally:
        # Everything the command made dies with the process: the interpreter's exit need not
        # sweep it all for reference cycles (some 30 ms at the end of a `stats`).
        gc.freeze()


class _Tee:
    """Standard error as it is, kept as well: what click said of a usage error."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        # The last writes only: a `watch --json` may write to stderr for hours.
        self.kept: deque[str] = deque(maxlen=64)

    def write(self, text: str | bytes) -> int:
        # click writes bytes where it takes the stream for a binary one.
        self.kept.append(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
        if isinstance(text, bytes):
            self.stream.flush()
            return int(self.stream.buffer.write(text))
        return int(self.stream.write(text))

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _run_with_usage_errors_in_json(prog_name: str) -> None:
    """Under --json, a usage error click reports (an unknown option, a bad value) is a JSON
    error on stdout too, as dockermem's own errors are (cli.common.fail)."""
    from dockermem.cli.common import json_error_printed, print_json_error

    tee = _Tee(sys.stderr)
    sys.stderr = tee
    try:
        app(prog_name=prog_name)
    except SystemExit as exit_:
        said = [line.strip() for line in "".join(tee.kept).splitlines() if line.strip().startswith("Error: ")]
        if exit_.code == 2 and said and not json_error_printed():
            print_json_error(said[-1].removeprefix("Error: "), 2)
        raise
    finally:
        sys.stderr = tee.stream
