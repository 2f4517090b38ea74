"""GitHub Actions, when dockermem runs in one (`GITHUB_ACTIONS=true`): an annotation for each
event worth one, as it happens, and a Markdown step summary when the run ends. The same for
every door: `up`, `watch` and the pytest plugin."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dockermem.core.events import Event, SessionSummary
from dockermem.core.session import Observer, Session
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
    """Annotations as events come, and the step summary at the end, with the start's analysis
    and the door's own notes (`notes`) when it has them. `title` names the run ("dockermem up"):
    the project follows it once it is known. Annotations go to stderr when stdout carries JSON
    lines; `live=False` keeps them for the end (the pytest plugin: output printed while a test
    runs is captured by pytest, where GitHub never sees it)."""

    def __init__(self, title: str, *, annotations_to_stderr: bool = False, live: bool = True) -> None:
        self.title = title
        self.project: str | None = None
        self.annotations_to_stderr = annotations_to_stderr
        self.live = live
        self.start: StartOutcome | None = None
        self.notes: Sequence[str] = ()

    def begin(self, session: Session) -> None:
        self.project = session.project

    def event(self, event: Event) -> None:
        if self.live:
            self._annotate(event)

    def started(self, outcome: StartOutcome) -> None:
        self.start, self.project = outcome, outcome.project

    def finish(self, summary: SessionSummary) -> None:
        if not in_github_actions():
            return
        if not self.live:
            for event in summary.events:
                self._annotate(event)
        if self.start is not None and not self.start.ok and self.start.memory_verdict:
            self._print(f"::error title={self.title}::{self.start.memory_verdict}")
        title = self.title if self.project is None else f"{self.title}: {self.project}"
        append_step_summary(session_summary_markdown(title, summary, self.start, self.notes))

    def _annotate(self, event: Event) -> None:
        line = annotation(event)
        if line is not None and in_github_actions():
            self._print(line)

    def _print(self, line: str) -> None:
        print(line, file=sys.stderr if self.annotations_to_stderr else sys.stdout, flush=True)
