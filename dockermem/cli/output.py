"""The one stdout console, and JSON printing."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

_console: Console | None = None


def stdout_console() -> Console:
    """The console every report is printed to (made on first use: rich loads only then)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(highlight=False)
    return _console


def print_renderable(renderable: RenderableType) -> None:
    stdout_console().print(renderable)


def print_json(document: dict[str, Any]) -> None:
    """One JSON object on one line (stable key order as built)."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_line(text: str) -> None:
    """One log line as it is, never wrapped (for output that is not a terminal)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
