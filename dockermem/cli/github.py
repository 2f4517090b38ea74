"""Writing to GitHub Actions when dockermem runs in one (`GITHUB_ACTIONS=true`)."""

from __future__ import annotations

import os
import sys


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def append_step_summary(markdown: str) -> None:
    """Append to `$GITHUB_STEP_SUMMARY` (nothing outside GitHub Actions)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if in_github_actions() and path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown + "\n")


def print_annotation(line: str | None, to_stderr: bool) -> None:
    """A workflow command; on stderr when stdout carries JSON lines."""
    if line is not None and in_github_actions():
        print(line, file=sys.stderr if to_stderr else sys.stdout, flush=True)
