"""The pytest plugin: memory safety inside the test suite itself.

Inactive (and nearly free: this module imports nothing beyond pytest) until asked, with
`pytest --dockermem compose/test.yaml` or the `dockermem_compose_files` ini option. Then:
before the session, the preflight (a stack that does not fit stops the session before any
test runs); during it, the monitoring session, with every OOM kill and EMERGENCY tied to the
test that was running ("redis was OOM-killed during tests/test_export.py::test_big_export")
and, by default, failing that test; after it, a per-service summary of peaks against limits.

Under pytest-xdist the controller starts one stack for the whole run and watches it; the
workers attach to it (`--dockermem-scope run`, the default), or each worker starts a stack of
its own after the controller has checked that all of them fit (`--dockermem-scope worker`).
`-n auto` starts only as many workers as fit beside the stack, by `--dockermem-per-worker` or
the workers' peak memory the history recorded.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Generator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from dockermem.config import Settings
    from dockermem.core.fit import WorkerPlan
    from dockermem.github import GitHubReport
    from dockermem.suite import TestTracker, WorkerMemory, WorkerTimeline
    from dockermem.sync import AttachedStack, SyncStack

# After each test, wait for a sample taken after it ended (so that what it caused is seen),
# at most this many intervals.
BARRIER_INTERVALS = 4
DEFAULT_INTERVAL_SECONDS = 0.25
SCOPES = ("run", "worker")
PLAN_KEY = pytest.StashKey["tuple[WorkerPlan, str]"]()


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
    group.addoption(
        "--dockermem-scope", choices=SCOPES, default=None,
        help="With pytest-xdist: run: one stack for the whole run, the workers attached to it "
        "(default); worker: a stack of its own for each worker.",
    )  # fmt: skip
    group.addoption(
        "--dockermem-per-worker", metavar="SIZE", default=None,
        help="Memory one test worker needs (512m, 1.5g: binary units): -n auto starts as many as fit "
        "beside the stack (default: the workers' peak the history recorded).",
    )  # fmt: skip
    parser.addini("dockermem_compose_files", "Compose files of the stack (activates dockermem).", type="args")
    parser.addini("dockermem_project", "Compose project name.", default="")
    parser.addini("dockermem_profile", "Preflight by a named memory profile.", default="")
    parser.addini("dockermem_environment", "dedicated or shared.", default="dedicated")
    parser.addini("dockermem_on_oom", "fail or warn.", default="fail")
    parser.addini("dockermem_scope", "run or worker (with pytest-xdist).", default="run")
    parser.addini("dockermem_per_worker", "Memory one test worker needs (512m, 1.5g).", default="")
    parser.addini(
        "dockermem_interval", "Seconds between memory samples.", default=str(DEFAULT_INTERVAL_SECONDS)
    )


@dataclass(frozen=True)
class Options:
    """What the plugin was asked to do."""

    files: tuple[str, ...]
    project: str | None
    profile: str | None
    environment: str
    on_oom: str
    scope: str
    per_worker: str | None
    interval: float

    @classmethod
    def of(cls, config: pytest.Config) -> Options | None:
        """The options in force, or None when the plugin was not asked for."""
        files = config.getoption("--dockermem") or config.getini("dockermem_compose_files")
        if not files:
            return None

        def given(option: str, ini: str) -> str | None:
            return config.getoption(option) or config.getini(ini) or None

        scope = given("--dockermem-scope", "dockermem_scope") or "run"
        if scope not in SCOPES:
            raise pytest.UsageError(f"dockermem_scope = {scope!r}: expected one of {', '.join(SCOPES)}")
        return cls(
            files=tuple(files),
            project=given("--dockermem-project", "dockermem_project"),
            profile=given("--dockermem-profile", "dockermem_profile"),
            environment=given("--dockermem-environment", "dockermem_environment") or "dedicated",
            on_oom=given("--dockermem-on-oom", "dockermem_on_oom") or "fail",
            scope=scope,
            per_worker=given("--dockermem-per-worker", "dockermem_per_worker"),
            interval=float(config.getini("dockermem_interval")),
        )

    def settings(self) -> Settings:
        from dockermem.config import load_settings

        return load_settings({"sample_interval_seconds": self.interval})


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _workers(config: pytest.Config) -> int:
    """How many xdist workers the run has (0 without xdist, or in a worker)."""
    if _is_worker(config) or getattr(config.option, "dist", "no") == "no":
        return 0
    count = getattr(config.option, "numprocesses", None)
    return count if isinstance(count, int) else 0


@pytest.hookimpl(optionalhook=True, wrapper=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> Generator[None, int, int]:
    """`-n auto`: what xdist would pick (by CPUs), lowered to what fits in memory."""
    picked = yield
    options = Options.of(config)
    if options is None:
        return picked
    plan = _plan_workers(options, picked)
    config.stash[PLAN_KEY] = (plan, "auto")
    if not plan.fits:
        pytest.exit(f"dockermem: not even one test worker fits: {plan.arithmetic()}; no test was run", 1)
    return plan.workers


def _plan_workers(options: Options, wanted: int) -> WorkerPlan:
    """The worker arithmetic, by the preflight (a docker error ends the run before any test)."""
    import anyio

    from dockermem.core.client import client_for
    from dockermem.core.fit import plan_workers
    from dockermem.docker.parse import parse_size
    from dockermem.errors import DockermemError, ParseError

    try:
        size = None if options.per_worker is None else _worker_size(parse_size(options.per_worker))
    except ParseError:
        raise pytest.UsageError(
            f"--dockermem-per-worker {options.per_worker!r} is not a size (512m, 1.5g)"
        ) from None
    try:
        settings = options.settings()
        paths = [Path(file) for file in options.files]
        return anyio.run(
            lambda: plan_workers(client_for(settings), settings, paths, options.project, size, wanted,
                                 per_worker_stacks=options.scope == "worker")
        )  # fmt: skip
    except DockermemError as error:
        pytest.exit(f"dockermem: {error}", int(error.exit_code))


def _worker_size(size: int) -> Any:
    from dockermem.core.fit import WorkerSize

    if size <= 0:
        raise pytest.UsageError("--dockermem-per-worker: a worker must need more than 0 bytes")
    return WorkerSize(size, "given")


def pytest_configure(config: pytest.Config) -> None:
    options = Options.of(config)
    if options is None:
        return
    if _is_worker(config) and config.workerinput.get("dockermem_scope") == "run":  # type: ignore[attr-defined]
        plugin: object = AttachedWorker(config, options)
    elif _workers(config):
        plugin = ControllerSession(config, options)
    else:
        plugin = DockermemSession(config, options)
    config.pluginmanager.register(plugin, "dockermem-session")


@pytest.fixture(scope="session")
def dockermem_stack(request: pytest.FixtureRequest) -> SyncStack | AttachedStack:
    """The running stack and its API (snapshot, services, health_report, statistics, events)."""
    session = request.config.pluginmanager.get_plugin("dockermem-session")
    stack = getattr(session, "stack", None)
    if stack is None:
        pytest.fail("the dockermem_stack fixture needs the stack: run pytest with --dockermem COMPOSE_FILE")
    return stack  # type: ignore[no-any-return]


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The worker arithmetic, when xdist's worker count was sized or checked by memory."""
    if PLAN_KEY not in config.stash:
        return []
    plan, how = config.stash[PLAN_KEY]
    return [_plan_line(plan, how)]


def _plan_line(plan: WorkerPlan, how: str) -> str:
    if how == "auto":
        if plan.per_worker is None and not plan.per_worker_stacks:
            return (f"dockermem: -n auto -> {plan.workers} workers (by CPUs: no per-worker size is known; "
                    "--dockermem-per-worker SIZE, or a recorded run, gives one)")  # fmt: skip
        return f"dockermem: -n auto -> {plan.workers} workers: {plan.arithmetic()}"
    fitting = plan.fitting
    if fitting is not None and plan.wanted is not None and fitting < plan.wanted:
        return f"dockermem: WARNING: -n {plan.wanted} but only {fitting} fit: {plan.arithmetic()}"
    return f"dockermem: -n {plan.wanted} fits: {plan.arithmetic()}"


def _start_failed(error: BaseException) -> None:
    """End the session before any test, with why the stack could not be started."""
    from dockermem.errors import DockermemError, PreflightFailedError, StackStartError

    if isinstance(error, PreflightFailedError):
        pytest.exit(f"dockermem: the stack does not fit; no test was run. {error}", returncode=1)
    if isinstance(error, StackStartError):
        pytest.exit(f"dockermem: {error}", returncode=1)
    if isinstance(error, DockermemError):
        pytest.exit(f"dockermem: {error}", returncode=int(error.exit_code))
    raise error


class DockermemSession:
    """The stack of one pytest process (no xdist, or an xdist worker with a stack of its own),
    and what happened to it during each test."""

    def __init__(self, config: pytest.Config, options: Options) -> None:
        self.config = config
        self.options = options
        self.stack: SyncStack | None = None
        self.tracker: TestTracker | None = None
        self.github: GitHubReport | None = None
        self._exit = ExitStack()
        self.start_seconds = 0.0

    # --- before the session -------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        import dockermem.sync
        from dockermem.errors import DockermemError
        from dockermem.github import GitHubReport
        from dockermem.suite import TestTracker

        self.tracker = TestTracker()
        # Annotations at the end: what is printed while a test runs, pytest captures.
        self.github = GitHubReport("dockermem", live=False)
        options = self.options
        started = time.monotonic()  # only shown: the start's duration in the summary
        try:
            self.stack = self._exit.enter_context(
                dockermem.sync.stack(
                    *options.files, project=options.project, memory_profile=options.profile,
                    environment=options.environment, settings=options.settings(),
                    observers=[self.tracker, self.github],
                    # A worker's stack was checked with all the others by the controller.
                    preflight=not _is_worker(self.config),
                )
            )  # fmt: skip
        except DockermemError as error:
            self._exit.close()
            _start_failed(error)
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
            self.tracker.test_ended(item.nodeid, ended_at, BARRIER_INTERVALS * self.options.interval + 1.0)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        from dockermem.suite import describe

        report = yield
        if report.when == "call" and self.tracker is not None:
            lines = [describe(event, item.nodeid) for event in self.tracker.by_test.get(item.nodeid, [])]
            _carry(report, lines, self.options.on_oom)
        return report

    # --- after it -----------------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("dockermem")
        if self.stack is None or self.tracker is None:
            terminalreporter.write_line("the stack was not started")
            return
        lines = self.tracker.lines()
        _write_summary(terminalreporter, self.stack, self.start_seconds, lines, self.tracker.leaks, {})
        if self.github is not None:
            self.github.notes = lines

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._exit.close()


class ControllerSession:
    """The xdist controller: it runs no test. With one stack for the run, it starts the stack,
    watches it, tells the workers which project to attach to, and ties each kill to the tests
    the workers were running; with a stack per worker, it checks that they all fit first."""

    def __init__(self, config: pytest.Config, options: Options) -> None:
        self.config = config
        self.options = options
        self.stack: SyncStack | None = None
        self.timeline: WorkerTimeline | None = None
        self.memory: WorkerMemory | None = None
        self.github: GitHubReport | None = None
        self.directory = Path(tempfile.mkdtemp(prefix="dockermem-xdist-"))
        self._exit = ExitStack()
        self.start_seconds = 0.0

    @pytest.hookimpl(tryfirst=True)  # before xdist starts the workers
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        workers = _workers(self.config)
        if PLAN_KEY not in self.config.stash and (
            self.options.per_worker is not None or self.options.scope == "worker"
        ):
            self.config.stash[PLAN_KEY] = (_plan_workers(self.options, workers), "given")
        if self.options.scope == "worker":
            plan = self.config.stash[PLAN_KEY][0]
            fitting = plan.fitting
            if fitting is not None and fitting < workers:
                pytest.exit(f"dockermem: {workers} stacks do not fit, {fitting} would: {plan.arithmetic()}; "
                            "no test was run", returncode=1)  # fmt: skip
            return
        self._start_stack()

    def _start_stack(self) -> None:
        import dockermem.sync
        from dockermem.errors import DockermemError
        from dockermem.github import GitHubReport
        from dockermem.suite import FrameBeacon, WorkerMemory, WorkerTimeline

        options = self.options
        settings = options.settings()
        self.timeline = WorkerTimeline(options.interval)
        self.memory = WorkerMemory(self.directory, settings.history_path if settings.history else None)
        self.github = GitHubReport("dockermem", live=False)
        observers = [self.timeline, FrameBeacon(self.directory), self.memory, self.github]
        started = time.monotonic()
        try:
            self.stack = self._exit.enter_context(
                dockermem.sync.stack(*options.files, project=options.project, memory_profile=options.profile,
                                     environment=options.environment, settings=settings, observers=observers)
            )  # fmt: skip
        except DockermemError as error:
            self._exit.close()
            _start_failed(error)
        self.start_seconds = time.monotonic() - started

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """What a worker needs: the scope, and for one stack for the run, its project and
        where the controller's beacon and the workers' PIDs are."""
        node.workerinput["dockermem_scope"] = self.options.scope
        if self.stack is not None:
            node.workerinput["dockermem_project"] = self.stack.project
            node.workerinput["dockermem_directory"] = str(self.directory)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None, None, None]:
        # Before pytest counts the report: a call report that carries a kill counts as failed.
        worker = getattr(getattr(report, "node", None), "workerinput", {}).get("workerid")
        if self.timeline is not None and worker is not None:
            if report.when == "setup":
                self.timeline.setup_reported(worker, report.nodeid, report.stop)  # its call starts now
            elif report.when == "call":
                lines = [blame.describe() for blame in self.timeline.carried_by(report.nodeid)]
                _carry(report, lines, self.options.on_oom)
            elif report.when == "teardown":
                self.timeline.teardown_reported(worker, report.nodeid, report.stop)
        return (yield)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # A kill no report could carry (its test had reported before it was seen) fails the run.
        if self.timeline is not None and self.timeline.uncarried() and self.options.on_oom == "fail":
            if session.exitstatus == 0:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("dockermem")
        if self.stack is None or self.timeline is None:
            terminalreporter.write_line("each worker started a stack of its own (--dockermem-scope worker)")
            return
        lines = [blame.describe() for blame in self.timeline.blames]
        uncarried = {blame.describe() for blame in self.timeline.uncarried()}
        lines = [
            f"{line} (seen after that test had reported)" if line in uncarried else line for line in lines
        ]
        peaks = {} if self.memory is None else self.memory.peaks
        _write_summary(terminalreporter, self.stack, self.start_seconds, lines, self.timeline.leaks, peaks)
        if self.github is not None:
            self.github.notes = lines

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._exit.close()
        import shutil

        shutil.rmtree(self.directory, ignore_errors=True)


class AttachedWorker:
    """An xdist worker whose stack the controller started: it attaches to it (its
    `dockermem_stack` is that stack), tells the controller its PID, and after each test waits
    for the controller's next frame, so that what the test caused is tied to it."""

    def __init__(self, config: pytest.Config, options: Options) -> None:
        from dockermem.sync import AttachedStack

        workerinput = config.workerinput  # type: ignore[attr-defined]
        self.options = options
        self.directory = Path(workerinput["dockermem_directory"])
        self.stack = AttachedStack(options.files, workerinput["dockermem_project"], options.settings())
        (self.directory / f"{workerinput['workerid']}.pid").write_text(str(os.getpid()))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        from dockermem.suite import wait_for_frame_after

        try:
            return (yield)
        finally:
            wait_for_frame_after(self.directory, time.time(), BARRIER_INTERVALS * self.options.interval + 1.0)


def _carry(report: pytest.TestReport, lines: list[str], on_oom: str) -> None:
    """A test's report carries the kills laid on it: a section, and under `fail` a failure."""
    if not lines:
        return
    report.sections.append(("dockermem", "\n".join(lines)))
    if on_oom == "fail" and report.outcome == "passed":
        report.outcome = "failed"
        report.longrepr = "dockermem: " + "; ".join(lines)


def _write_summary(
    terminalreporter: Any,
    stack: SyncStack,
    start_seconds: float,
    lines: list[str],
    leaks: dict[str, str],
    worker_peaks: dict[str, int],
) -> None:
    """The terminal summary: each service's peak against its limit, with its OOM kills and a
    right-sizing hint; the workers' peaks; the kills and leaks of the run."""
    from dockermem.core.history import recommend_limit
    from dockermem.units import format_bytes, name_order

    write = terminalreporter.write_line
    summary = stack.summary
    write(f"stack {stack.project} started in {start_seconds:.1f}s")
    write(f"{'service':<20} {'peak':>10} {'limit':>10} {'OOM':>4}  hint")
    for service, peak in summary.service_peaks().items():
        fitting = recommend_limit(peak.peak_bytes, limit_bytes=peak.limit_bytes, oom_kills=peak.oom_kills)
        limit_text = "no limit" if peak.limit_bytes is None else format_bytes(peak.limit_bytes)
        figures = f"{format_bytes(peak.peak_bytes):>10} {limit_text:>10} {peak.oom_kills:>4}"
        why = f"(OOM-killed {peak.oom_kills}×)" if peak.oom_kills else "fits its peak"
        write(f"{service:<20} {figures}  limit {format_bytes(fitting)} {why}")
    if worker_peaks:
        write("workers (process tree RSS, peak): " + ", ".join(
            f"{worker} {format_bytes(peak)}"
            for worker, peak in sorted(worker_peaks.items(), key=lambda item: name_order(item[0]))
        ))  # fmt: skip
    for line in lines:
        write(line, red=True)
    for message in leaks.values():
        write(f"leak: {message}", yellow=True)
