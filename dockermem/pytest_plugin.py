"""The pytest plugin: memory safety inside the test suite itself.

Inactive (and nearly free: this module imports nothing beyond pytest) until asked, with
`pytest --dockermem compose/test.yaml` or the `dockermem_compose_files` ini option. Then:
before the session, the preflight (a stack that does not fit stops the session before any
test runs); during it, the monitor, with every OOM kill and EMERGENCY tied to the test that was
running ("redis was OOM-killed during tests/test_export.py::test_big_export") and, by default,
failing that test; after it, a per-service summary of peaks against limits.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from dockermem.github import GitHubReport
    from dockermem.per_test import TestTracker
    from dockermem.sync import SyncStack

# After each test, wait for a sample taken after it ended (so that what it caused is seen),
# at most this many intervals.
BARRIER_INTERVALS = 4
DEFAULT_INTERVAL_SECONDS = 0.25


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dockermem", "memory safety of a docker compose test stack")
    group.addoption(
        "--dockermem", action="append", metavar="COMPOSE_FILE", default=None,
        help="Run the session beside this compose stack (repeatable).",
    )  # fmt: skip
    group.addoption("--dockermem-project", default=None, help="Compose project name.")
    group.addoption("--dockermem-profile", default=None, help="Preflight by a named memory profile.")
    group.addoption(
        "--dockermem-environment", choices=("dedicated", "shared"), default=None,
        help="dedicated: a project of its own, brought down afterwards (default); shared: reused, left up.",
    )  # fmt: skip
    group.addoption(
        "--dockermem-on-oom", choices=("fail", "warn"), default=None,
        help="An OOM kill or EMERGENCY during a test fails it, or only warns (default: fail).",
    )  # fmt: skip
    parser.addini("dockermem_compose_files", "Compose files of the stack (activates dockermem).", type="args")
    parser.addini("dockermem_project", "Compose project name.", default="")
    parser.addini("dockermem_profile", "Preflight by a named memory profile.", default="")
    parser.addini("dockermem_environment", "dedicated or shared.", default="dedicated")
    parser.addini("dockermem_on_oom", "fail or warn.", default="fail")
    parser.addini(
        "dockermem_interval", "Seconds between memory samples.", default=str(DEFAULT_INTERVAL_SECONDS)
    )


def pytest_configure(config: pytest.Config) -> None:
    files = config.getoption("--dockermem") or config.getini("dockermem_compose_files")
    if files:
        config.pluginmanager.register(DockermemSession(config, list(files)), "dockermem-session")


@pytest.fixture(scope="session")
def dockermem_stack(request: pytest.FixtureRequest) -> SyncStack:
    """The running stack and its API (snapshot, health_report, statistics, events)."""
    session = request.config.pluginmanager.get_plugin("dockermem-session")
    if not isinstance(session, DockermemSession) or session.stack is None:
        pytest.fail("the dockermem_stack fixture needs the stack: run pytest with --dockermem COMPOSE_FILE")
    return session.stack


class DockermemSession:
    """The stack of one pytest session, and what happened to it during each test."""

    def __init__(self, config: pytest.Config, files: list[str]) -> None:
        self.config = config
        self.files = files
        self.project = config.getoption("--dockermem-project") or config.getini("dockermem_project") or None
        self.profile = config.getoption("--dockermem-profile") or config.getini("dockermem_profile") or None
        self.environment = config.getoption("--dockermem-environment") or config.getini(
            "dockermem_environment"
        )
        self.on_oom = config.getoption("--dockermem-on-oom") or config.getini("dockermem_on_oom")
        self.interval = float(config.getini("dockermem_interval"))
        self.stack: SyncStack | None = None
        self.tracker: TestTracker | None = None
        self.github: GitHubReport | None = None
        self._exit = ExitStack()
        self.start_seconds = 0.0

    # --- before the session -------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        import dockermem.sync
        from dockermem.config import load_settings
        from dockermem.errors import DockermemError, PreflightFailedError, StackStartError
        from dockermem.github import GitHubReport
        from dockermem.per_test import TestTracker

        self.tracker = TestTracker()
        # Annotations at the end: what is printed while a test runs, pytest captures.
        self.github = GitHubReport("dockermem", live=False)
        started = time.monotonic()  # only shown: the start's duration in the summary
        try:
            settings = load_settings({"sample_interval_seconds": self.interval})
            self.stack = self._exit.enter_context(
                dockermem.sync.stack(
                    *self.files,
                    project=self.project,
                    profile=self.profile,
                    environment=self.environment,
                    settings=settings,
                    observers=[self.tracker, self.github],
                )
            )
        except PreflightFailedError as error:
            self._exit.close()
            pytest.exit(f"dockermem: the stack does not fit; no test was run. {error}", returncode=1)
        except StackStartError as error:
            self._exit.close()
            pytest.exit(f"dockermem: {error}", returncode=1)
        except DockermemError as error:
            self._exit.close()
            pytest.exit(f"dockermem: {error}", returncode=int(error.exit_code))
        self.start_seconds = time.monotonic() - started

    # --- during it ----------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        assert self.tracker is not None and self.stack is not None
        self.tracker.test_started(item.nodeid)
        try:
            return (yield)
        finally:
            ended_at = self.stack.stack.session.clock.now()
            # What the test caused is seen by the first frame taken after it ended.
            self.tracker.test_ended(item.nodeid, ended_at, BARRIER_INTERVALS * self.interval + 1.0)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        from dockermem.per_test import describe

        report = yield
        if report.when != "call" or self.tracker is None:
            return report
        events = self.tracker.by_test.get(item.nodeid, [])
        if events:
            lines = [describe(event, item.nodeid) for event in events]
            report.sections.append(("dockermem", "\n".join(lines)))
            if self.on_oom == "fail" and report.outcome == "passed":
                report.outcome = "failed"
                report.longrepr = "dockermem: " + "; ".join(lines)
        return report

    # --- after it -----------------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from dockermem.core.history import recommend_limit
        from dockermem.units import format_bytes

        write = terminalreporter.write_line
        terminalreporter.section("dockermem")
        if self.stack is None or self.tracker is None:
            write("the stack was not started")
            return
        summary = self.stack.summary
        write(f"stack {self.stack.project} started in {self.start_seconds:.1f}s")
        write(f"{'service':<20} {'peak':>10} {'limit':>10} {'OOM':>4}  hint")
        for service, peak in sorted(summary.service_peaks().items()):
            fitting = recommend_limit(peak.peak_bytes, limit_bytes=peak.limit_bytes, oom_kills=peak.oom_kills)
            hint = f"limit {format_bytes(fitting)} fits its peak"
            limit_text = "no limit" if peak.limit_bytes is None else format_bytes(peak.limit_bytes)
            figures = f"{format_bytes(peak.peak_bytes):>10} {limit_text:>10} {peak.oom_kills:>4}"
            write(f"{service:<20} {figures}  {hint}")
        lines = self.tracker.lines()
        for line in lines:
            write(line, red=True)
        for message in self.tracker.leaks.values():
            write(f"leak: {message}", yellow=True)
        if self.github is not None:
            self.github.notes = lines

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._exit.close()
