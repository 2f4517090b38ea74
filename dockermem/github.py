"""GitHub Actions, when dockermem runs in one (`GITHUB_ACTIONS=true`): an annotation for each
event worth one, as it happens, and a Markdown step summary when the run ends. The same for
every door: `up`, `watch` and the pytest plugin."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dockermem.core.events import Event, SessionSummary
from dockermem.core.session import Observer
from dockermem.render.github import annotation, session_summary_markdown

if TYPE_CHECKING:
    from dockermem.core.lifecycle import StartOutcome


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def append_step_summary(markdown: str) -> None:
    """Append to `$GITHUB_STEP_SUMMARY` (nothing outside GitHub Actions)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if in_github_actions() and path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown + "\n")


class GitHubReport(Observer):
    """Annotations as events come (on stderr when stdout carries JSON lines), and the step
    summary at the end, with the start's analysis (`start`) and the door's own notes
    (`notes`) when it has them."""

    def __init__(self, title: str, *, annotations_to_stderr: bool = False) -> None:
        self.title = title
        self.annotations_to_stderr = annotations_to_stderr
        self.start: StartOutcome | None = None
        self.notes: Sequence[str] = ()

    def event(self, event: Event) -> None:
        line = annotation(event)
        if line is not None and in_github_actions():
            print(line, file=sys.stderr if self.annotations_to_stderr else sys.stdout, flush=True)

    def started(self, outcome: StartOutcome) -> None:
        self.start = outcome

    def finish(self, summary: SessionSummary) -> None:
        if not in_github_actions():
            return
        if self.start is not None and not self.start.ok and self.start.memory_verdict:
            print(f"::error title=dockermem up::{self.start.memory_verdict}", flush=True)
        append_step_summary(session_summary_markdown(self.title, summary, self.start, self.notes))

    def no_session(self, start: StartOutcome) -> None:
        """The step summary of a start the preflight stopped (no session ran)."""
        self.start = start
        self.finish(SessionSummary(0.0, (), False, False))
