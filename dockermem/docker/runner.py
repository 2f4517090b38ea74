"""The one door to docker: every docker subprocess is started here, and nowhere else.

It owns the argv list (never a shell), the limit on concurrent calls, the spacing between
their starts, the timeout that kills a call's whole process group, retries with backoff for
transient daemon errors, and the typed errors.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cached_property

import anyio
import anyio.abc

from dockermem.background import tasks_beside
from dockermem.docker.cli_plugin import docker_config_dir
from dockermem.errors import (
    DaemonUnreachableError,
    DockerCommandError,
    DockerEndpointError,
    DockermemError,
    DockerNotInstalledError,
    DockerTimeoutError,
    NotAnEngineError,
)

# `LineStream` imports anyio's text streams where it reads them: only the long-running commands
# (`docker events`, the `docker stats` stream) use it, and a short command should not load them.

log = logging.getLogger(__name__)

# stderr of a client that cannot reach its daemon at all: fail at once, never retry.
DAEMON_UNREACHABLE = re.compile(
    r"Cannot connect to the Docker daemon|error during connect|Is the docker daemon running"
    r"|dial unix .*: connect: (no such file or directory|connection refused|permission denied)"
)
# stderr of a daemon that answered badly this once: worth another try after a pause.
TRANSIENT_DAEMON_ERROR = re.compile(
    r"connection reset by peer|unexpected EOF|i/o timeout|TLS handshake timeout"
    r"|503 Service Unavailable|502 Bad Gateway|context deadline exceeded|server is busy",
    re.IGNORECASE,
)
# stderr of a client whose endpoint answered, but with a web page where the API was asked.
NOT_AN_ENGINE = re.compile(r"Error response from daemon:\s*<(!DOCTYPE|html)", re.IGNORECASE)
# stderr of a client that cannot tell which engine to use (no such context, a bad DOCKER_HOST).
ENDPOINT_UNRESOLVED = re.compile(r"unable to resolve docker endpoint")
STDERR_KEPT_BYTES = 64 * 1024


@dataclass(frozen=True)
class RunnerLimits:
    """How the runner may use docker: binary, concurrency, spacing, timeout and retries."""

    binary: str = "docker"
    concurrency: int = 6
    spacing_seconds: float = 0.005
    timeout_seconds: float = 30.0
    retries: int = 2
    backoff_seconds: float = 0.25
    # Run Compose v2's plugin binary itself for `compose ...` when the docker CLI would find
    # it (see `find_compose_plugin`): the same program, without the CLI's start and its plugin
    # handshake. Only with the default binary: a named one (a wrapper) sees every call.
    compose_direct: bool = True


@dataclass(frozen=True)
class CommandResult:
    """What a finished docker command printed."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def failure_error(
    argv: Sequence[str], returncode: int, stderr: str, stdout: str = "", detail: str = ""
) -> DockermemError:
    """The typed error of a docker command that failed: no engine to be had (no such context
    or a bad DOCKER_HOST, the daemon unreachable, something not Docker at its address), or the
    command's own (`detail`, when given, says what went wrong instead of stderr's last line)."""
    if ENDPOINT_UNRESOLVED.search(stderr):
        return DockerEndpointError(argv, stderr)
    if DAEMON_UNREACHABLE.search(stderr):
        return DaemonUnreachableError(argv, stderr)
    if NOT_AN_ENGINE.search(stderr):
        return NotAnEngineError(argv, stderr, endpoint_named(argv))
    return DockerCommandError(argv, returncode, stdout, stderr, detail)


def endpoint_named(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> str:
    """The engine a docker command was pointed at, in words, as the docker CLI chooses it: its
    `--context`, else DOCKER_HOST, else DOCKER_CONTEXT, else the current context."""
    if "--context" in argv[:-1]:
        return f'context "{argv[list(argv).index("--context") + 1]}"'
    if host := environ.get("DOCKER_HOST"):
        return host
    if context := environ.get("DOCKER_CONTEXT"):
        return f'context "{context}"'
    return "the current docker context's endpoint"


class DockerRunner:
    """Runs docker commands for one engine (one `--context`, or the user's current one)."""

    def __init__(self, limits: RunnerLimits, context: str | None = None) -> None:
        self.limits = limits
        self.context = context
        self._last_start = -math.inf
        self._binary_path: str | None = None
        self._early: dict[tuple[str, ...], EarlyCall] = {}
        self._ends_early_calls_at_exit = False

    # The limiter and the lock are made on first use, in the event loop: made before it, they
    # would load asyncio (anyio asks it whether a loop runs) before a call started early.
    @cached_property
    def _limiter(self) -> anyio.CapacityLimiter:
        return anyio.CapacityLimiter(self.limits.concurrency)

    @cached_property
    def _spacing_lock(self) -> anyio.Lock:
        return anyio.Lock()

    def start_early(self, args: Sequence[str]) -> None:
        """Start a docker command now, before any event loop runs, for the `run` of the same
        arguments to take up as its first try: the command runs while Python loads the event
        loop and what reads its answer. Outside the limit and the spacing (a few calls, before
        any other); one that no `run` takes up is killed when dockermem exits. A call that
        cannot start is left to `run`, which reports why."""
        try:
            argv = self.argv(args)
        except DockermemError:
            return
        if tuple(argv) in self._early:
            return
        try:
            process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
            )
        except OSError:
            return
        if not self._ends_early_calls_at_exit:
            atexit.register(self._end_early_calls)
            self._ends_early_calls_at_exit = True
        log.debug("docker call (started early): %s", argv)
        self._early[tuple(argv)] = EarlyCall(tuple(argv), process, time.monotonic())

    def _end_early_calls(self) -> None:
        for call in self._early.values():
            call.end()
        self._early.clear()

    def argv(self, args: Sequence[str]) -> list[str]:
        """The full argv of a docker command, with the context when one is set."""
        context = [] if self.context is None else ["--context", self.context]
        if args and args[0] == "compose" and (plugin := self._compose_plugin) is not None:
            # Standalone, the plugin takes the docker CLI's global options and compose's own.
            return [plugin, *context, *args[1:]]
        return [self._resolve_binary(), *context, *args]

    @cached_property
    def _compose_plugin(self) -> str | None:
        direct = self.limits.compose_direct and self.limits.binary == "docker"
        return find_compose_plugin() if direct else None

    def _resolve_binary(self) -> str:
        if self._binary_path is None:
            found = shutil.which(self.limits.binary)
            if found is None:
                raise DockerNotInstalledError(self.limits.binary)
            self._binary_path = found
        return self._binary_path

    async def _wait_for_turn(self) -> None:
        """Space the starts of docker calls by at least the configured spacing."""
        async with self._spacing_lock:
            wait = self._last_start + self.limits.spacing_seconds - time.monotonic()
            if wait > 0:
                await anyio.sleep(wait)
            self._last_start = time.monotonic()

    async def run(
        self,
        args: Sequence[str],
        *,
        time_limit: float | None = None,
        retries: int | None = None,
        check: bool = True,
        stdin: bytes | None = None,
        grace_seconds: float = 0.0,
    ) -> CommandResult:
        """Run one docker command to its end and return what it printed.

        Raises the typed errors: not installed, daemon unreachable, timed out (after the
        retries), or command failed (when `check`). Pass `retries=0` for a command that must
        not run twice, such as one that changes state, and `grace_seconds` to let it stop
        cleanly (SIGINT first) when it is cancelled.
        """
        argv = self.argv(args)
        timeout = self.limits.timeout_seconds if time_limit is None else time_limit
        attempts = 1 + (self.limits.retries if retries is None else retries)
        for attempt in range(1, attempts + 1):
            last_try = attempt == attempts
            early = self._early.pop(tuple(argv), None) if stdin is None else None
            async with self._limiter:
                if early is not None:
                    result = await early.finish(timeout)
                else:
                    await self._wait_for_turn()
                    log.debug("docker call (try %d): %s", attempt, argv)
                    result = await _run_process_group(argv, timeout, stdin, grace_seconds)
            if result is None:
                if last_try:
                    raise DockerTimeoutError(argv, timeout, attempts)
            elif result.returncode == 0:
                return result
            else:
                error = failure_error(argv, result.returncode, result.stderr, result.stdout)
                # No engine to be had fails at once, `check` or not; a transient error is tried again.
                if not isinstance(error, DockerCommandError):
                    raise error
                if not TRANSIENT_DAEMON_ERROR.search(result.stderr):
                    if check:
                        raise error
                    return result
                if last_try:
                    raise error
            await anyio.sleep(self.limits.backoff_seconds * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def stream(self, args: Sequence[str]) -> AsyncIterator[LineStream]:
        """Start a long-running docker command and read its output line by line.

        Leaving the block (or cancelling it) ends the command's whole process group.
        """
        argv = self.argv(args)
        async with self._limiter:
            await self._wait_for_turn()
        log.debug("docker stream: %s", argv)
        process = await _open_process_group(argv, stdin=None)
        line_stream = LineStream(argv, process)
        try:
            async with tasks_beside(line_stream.drain_stderr):
                yield line_stream
        finally:
            with anyio.CancelScope(shield=True):
                await _end_process_group(process)


class EarlyCall:
    """A docker command started before the event loop ran (`DockerRunner.start_early`)."""

    def __init__(self, argv: tuple[str, ...], process: subprocess.Popen[bytes], started: float) -> None:
        self.argv = argv
        self.process = process
        self.started = started  # time.monotonic()

    async def finish(self, time_limit: float) -> CommandResult | None:
        """What it printed once it has ended; None when it did not end within `time_limit` of
        its start (it is then killed, as it is when the wait is cancelled)."""
        from anyio import to_thread

        outputs: tuple[bytes, bytes] | None = None
        try:
            with anyio.move_on_after(max(0.0, self.started + time_limit - time.monotonic())):
                outputs = await to_thread.run_sync(self.process.communicate, abandon_on_cancel=True)
        finally:
            if outputs is None:
                self.end()
        if outputs is None:
            return None
        return CommandResult(
            argv=self.argv,
            returncode=self.process.returncode,
            stdout=outputs[0].decode("utf-8", errors="replace"),
            stderr=outputs[1].decode("utf-8", errors="replace"),
        )

    def end(self) -> None:
        """Kill it and all it started (its session), and reap it."""
        _signal_group(self.process.pid, signal.SIGKILL)
        self.process.wait()


class LineStream:
    """The stdout of a long-running docker command, as lines (partial lines are kept)."""

    def __init__(self, argv: list[str], process: anyio.abc.Process) -> None:
        self.argv = tuple(argv)
        self.process = process
        self.stderr = ""
        self._stderr_read = anyio.Event()

    async def drain_stderr(self) -> None:
        from anyio.streams.text import TextReceiveStream

        try:
            if self.process.stderr is not None:
                async for chunk in TextReceiveStream(self.process.stderr, errors="replace"):
                    self.stderr = (self.stderr + chunk)[-STDERR_KEPT_BYTES:]
        finally:
            self._stderr_read.set()

    async def lines(self) -> AsyncIterator[str]:
        """Each complete line of stdout, without its newline; ends when the command does."""
        from anyio.streams.text import TextReceiveStream

        assert self.process.stdout is not None
        pending = ""
        async for chunk in TextReceiveStream(self.process.stdout, errors="replace"):
            pending += chunk
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line
        if pending:
            yield pending

    async def wait(self) -> int:
        """The command's exit code, once it has ended and all it wrote to stderr is read (the
        caller reads `stderr` next: it must not miss what came just before the end)."""
        code = await self.process.wait()
        await self._stderr_read.wait()
        return code


# Where the docker CLI looks for its plugins on Linux and macOS, after the user's own directory.
SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)


def find_compose_plugin(
    environ: Mapping[str, str] = os.environ, system_dirs: Sequence[str] = SYSTEM_PLUGIN_DIRS
) -> str | None:
    """The `docker-compose` plugin that `docker compose` would run, or None to go through the CLI.

    The CLI looks in `$DOCKER_CONFIG/cli-plugins` (default `~/.docker/cli-plugins`), then in the
    system directories, and takes the first `docker-compose` there. A config that adds plugin
    directories (`cliPluginsExtraDirs`), a first one that is no program, or a process that is
    itself run as a CLI plugin are left to the CLI.
    """
    if environ.get("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"):
        return None  # set, it makes the binary take its arguments as a plugin's: the CLI's way
    try:
        config_dir = docker_config_dir(environ)
    except (RuntimeError, KeyError):
        return None  # no home directory to look in: the CLI knows what it makes of that
    try:
        if "cliPluginsExtraDirs" in (config_dir / "config.json").read_text(encoding="utf-8"):
            return None
    except (OSError, UnicodeDecodeError):
        pass
    for directory in (str(config_dir / "cli-plugins"), *system_dirs):
        candidate = os.path.join(directory, "docker-compose")
        if os.path.exists(candidate):
            # The first one found is the CLI's choice, even one it would refuse to run.
            return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None
    return None


async def _open_process_group(argv: list[str], stdin: int | None) -> anyio.abc.Process:
    # A session of its own, so that a timeout or a cancel can end docker together with
    # any child it started (compose is a plugin process of the docker client). The start is
    # shielded: a cancel that landed inside it would leave a process that the caller never
    # got to end and reap (asyncio then warns, after the loop has closed, that it exited).
    try:
        with anyio.CancelScope(shield=True):
            process = await anyio.open_process(argv, stdin=stdin, start_new_session=True)
    except FileNotFoundError:
        raise DockerNotInstalledError(argv[0]) from None
    return process


async def _end_process_group(process: anyio.abc.Process, grace_seconds: float = 0.0) -> None:
    """End a command and everything it started; reap it so that no zombie stays.

    By default SIGKILL at once: what is ended here is a call that was abandoned (timed out,
    cancelled, or a stream read far enough). A command that changes state (compose up) gets
    SIGINT and `grace_seconds` to stop as it would on Ctrl-C first.
    """
    if process.returncode is None and grace_seconds > 0:
        _signal_group(process.pid, signal.SIGINT)
        with anyio.move_on_after(grace_seconds):
            await process.wait()
    _signal_group(process.pid, signal.SIGKILL)
    if process.returncode is None:
        await process.wait()
    await process.aclose()


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


async def _run_process_group(
    argv: list[str], time_limit: float, stdin: bytes | None, grace_seconds: float = 0.0
) -> CommandResult | None:
    """Run a command to its end; None when it did not finish within `time_limit` (it is killed)."""
    process = await _open_process_group(argv, stdin=subprocess.PIPE if stdin is not None else None)
    stdout_chunks: list[bytes] = []
    stderr_chunks: list[bytes] = []

    async def drain(stream: anyio.abc.ByteReceiveStream | None, into: list[bytes]) -> None:
        if stream is not None:
            into.extend([chunk async for chunk in stream])

    finished = False
    try:
        with anyio.move_on_after(time_limit):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(drain, process.stdout, stdout_chunks)
                tasks.start_soon(drain, process.stderr, stderr_chunks)
                if process.stdin is not None and stdin is not None:
                    await process.stdin.send(stdin)
                    await process.stdin.aclose()
            await process.wait()
            finished = True
    finally:
        with anyio.CancelScope(shield=True):
            await _end_process_group(process, 0.0 if finished else grace_seconds)
    if not finished:
        return None
    assert process.returncode is not None
    return CommandResult(
        argv=tuple(argv),
        returncode=process.returncode,
        stdout=b"".join(stdout_chunks).decode("utf-8", errors="replace"),
        stderr=b"".join(stderr_chunks).decode("utf-8", errors="replace"),
    )
