"""The pytest plugin: memory safety inside the test suite itself.

Inactive (and nearly free: this module imports nothing beyond pytest) until asked, with
`pytest --dockermem compose/test.yaml` or the `dockermem_compose_files` ini option. Then:
before the session, the preflight (a stack that does not fit stops the session before any
test runs); during it, the monitor, with every OOM kill and EMERGENCY tied to the test that was
running ("redis was OOM-killed during tests/test_export.py::test_big_export") and, by default,
failing that test; after it, a per-service summary of peaks against limits.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Generator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from dockermem.core.watch import WatchEvent, WatchFrame
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
        self._exit = ExitStack()
        self._lock = threading.Condition()
        self._last_frame_at = 0.0
        self._current: str | None = None
        self._pending: list[WatchEvent] = []
        self.by_test: dict[str, list[WatchEvent]] = {}
        self.peaks: dict[str, tuple[int, int | None]] = {}  # service -> (peak, limit)
        self.leaks: dict[str, str] = {}
        self.start_seconds = 0.0

    # --- before the session -------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        import dockermem.sync
        from dockermem.api import PreflightFailedError, StackStartError
        from dockermem.config import load_settings
        from dockermem.errors import DockermemError

        started = time.monotonic()
        try:
            settings = load_settings({"sample_interval_seconds": self.interval})
            self.stack = self._exit.enter_context(
                dockermem.sync.stack(
                    *self.files,
                    project=self.project,
                    profile=self.profile,
                    environment=self.environment,
                    settings=settings,
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
        self.stack.stack.on_frame(self._on_frame)
        self.stack.stack.on_event(self._on_event)

    # --- during it ----------------------------------------------------------------------
    def _on_frame(self, frame: WatchFrame) -> None:
        with self._lock:
            for row in frame.containers:
                service = row.service or row.name
                peak, _ = self.peaks.get(service, (0, None))
                self.peaks[service] = (max(peak, row.memory_usage_bytes), row.memory_limit_bytes)
            self._last_frame_at = time.monotonic()
            self._lock.notify_all()

    def _on_event(self, event: WatchEvent) -> None:
        from dockermem.core.watch import WatchEventType

        with self._lock:
            if event.type is WatchEventType.LEAK and event.container:
                self.leaks[str(event.details.get("service") or event.container)] = event.message
            if event.type in (WatchEventType.OOM, WatchEventType.EMERGENCY):
                self._pending.append(event)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        with self._lock:
            self._pending.clear()  # what came before this test is not its doing
            self._current = item.nodeid
        try:
            return (yield)
        finally:
            ended = time.monotonic()
            with self._lock:
                # Wait for a sample taken after the test ended: what it caused is seen by then.
                self._lock.wait_for(
                    lambda: self._last_frame_at > ended, timeout=BARRIER_INTERVALS * self.interval + 1.0
                )
                self.by_test[item.nodeid] = list(self._pending)
                self._pending.clear()
                self._current = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.when != "call":
            return report
        events = self.by_test.get(item.nodeid, [])
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
        if self.stack is None:
            write("the stack was not started")
            return
        write(f"stack {self.stack.project} started in {self.start_seconds:.1f}s")
        write(f"{'service':<20} {'peak':>10} {'limit':>10} {'OOM':>4}  hint")
        for service, (peak, limit) in sorted(self.peaks.items()):
            kills = self.oom_count(service)
            fitting = recommend_limit(peak, limit_bytes=limit, oom_kills=kills)
            hint = f"limit {format_bytes(fitting)} fits its peak"
            limit_text = "no limit" if limit is None else format_bytes(limit)
            write(f"{service:<20} {format_bytes(peak):>10} {limit_text:>10} {kills:>4}  {hint}")
        for nodeid, events in sorted(self.by_test.items()):
            for event in events:
                write(describe(event, nodeid), red=True)
        for message in self.leaks.values():
            write(f"leak: {message}", yellow=True)
        self._github_summary()

    def oom_count(self, service: str) -> int:
        from dockermem.core.watch import WatchEventType

        return sum(
            1
            for events in self.by_test.values()
            for event in events
            if event.type is WatchEventType.OOM and service in (event.details.get("service"), event.container)
        )

    def _github_summary(self) -> None:
        path = os.environ.get("GITHUB_STEP_SUMMARY")
        if os.environ.get("GITHUB_ACTIONS") != "true" or not path or self.stack is None:
            return
        from dockermem.units import format_bytes

        lines = [
            f"## dockermem: {self.stack.project}",
            "",
            "| service | peak | limit | OOM kills |",
            "|---|---|---|---|",
        ]
        for service, (peak, limit) in sorted(self.peaks.items()):
            limit_text = "no limit" if limit is None else format_bytes(limit)
            lines.append(f"| {service} | {format_bytes(peak)} | {limit_text} | {self.oom_count(service)} |")
        lines += [
            f"- {describe(event, nodeid)}" for nodeid, events in self.by_test.items() for event in events
        ]
        with open(path, "a", encoding="utf-8") as summary:
            summary.write("\n".join(lines) + "\n")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._exit.close()


def describe(event: WatchEvent, nodeid: str) -> str:
    """ "redis was OOM-killed during tests/test_export.py::test_big_export"."""
    from dockermem.core.watch import WatchEventType

    who = str(event.details.get("service") or event.container or "the stack")
    if event.type is WatchEventType.OOM:
        return f"{who} was OOM-killed during {nodeid}"
    return f"{event.message} during {nodeid}"
