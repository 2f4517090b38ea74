"""The typed errors of dockermem, and the exit code each one maps to."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the errors of a start carry the core's records; this module imports no core
    from dockermem.core.lifecycle import StartOutcome
    from dockermem.core.preflight import PreflightResult


class ExitCode(IntEnum):
    """Exit codes, the same across every command (documented in the README)."""

    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    DOCKER_UNAVAILABLE = 69
    INTERRUPTED = 130
    TERMINATED = 143

    @classmethod
    def for_signal(cls, signal_number: int | None) -> ExitCode:
        """130 for Ctrl-C (SIGINT), 143 for SIGTERM: 128 plus the signal, as shells report it."""
        return cls.TERMINATED if signal_number == signal.SIGTERM else cls.INTERRUPTED


class DockermemError(Exception):
    """Base of every error dockermem reports to its user as one line."""

    exit_code: ExitCode = ExitCode.CHECK_FAILED


class ConfigError(DockermemError):
    """A bad flag, environment variable or config file value."""

    exit_code = ExitCode.USAGE


class UnknownServiceError(ConfigError):
    """A service named (`up SERVICE...`, `preflight SERVICE...`) that the compose files do not
    declare: bad usage, in compose's words."""

    def __init__(self, service: str) -> None:
        super().__init__(f"no such service: {service}")
        self.service = service


class HistoryError(DockermemError):
    """The history database cannot be opened, read or written (the message names the file)."""

    exit_code = ExitCode.USAGE


class DockerUnavailableError(DockermemError):
    """Docker cannot be used at all: the client or the daemon is missing."""

    exit_code = ExitCode.DOCKER_UNAVAILABLE


class DockerNotInstalledError(DockerUnavailableError):
    """The docker client binary is not on PATH."""

    def __init__(self, binary: str) -> None:
        super().__init__(f"docker is not installed: '{binary}' was not found on PATH")
        self.binary = binary


class DaemonUnreachableError(DockerUnavailableError):
    """The docker client runs but cannot reach its daemon."""

    def __init__(self, argv: Sequence[str], stderr: str) -> None:
        detail = docker_reason(stderr) or "no answer"
        super().__init__(f"the Docker daemon is unreachable ({describe_command(argv)}): {detail}")
        self.argv = tuple(argv)
        self.stderr = stderr


class NotAnEngineError(DockerUnavailableError):
    """Something answered at the engine's address, but not as a Docker engine (an HTML page
    where the API was asked): as unusable as a daemon that is down."""

    def __init__(self, argv: Sequence[str], stderr: str, endpoint: str) -> None:
        detail = docker_reason(stderr) or "no reason given"
        what = describe_command(argv)
        super().__init__(f"{what}: {endpoint} answered, but not as a Docker engine ({detail})")
        self.argv = tuple(argv)
        self.stderr = stderr
        self.endpoint = endpoint


class DockerEndpointError(ConfigError):
    """The docker client cannot tell which engine to use: a context that does not exist, or a
    DOCKER_HOST it cannot read. A configuration to mend (exit 2), not an engine that is down."""

    def __init__(self, argv: Sequence[str], stderr: str) -> None:
        context = missing_context(stderr)
        what = describe_command(argv)
        if context is not None:
            message = f'docker context "{context}" does not exist ({what}; see docker context ls)'
        else:
            message = f"{what}: {docker_reason(stderr)}"
        super().__init__(message)
        self.argv = tuple(argv)
        self.stderr = stderr
        self.context = context


class DockerCommandError(DockermemError):
    """A docker command exited non-zero for a reason other than the daemon being down. What
    was asked of docker could not be done: docker unusable for it (69), no check that failed."""

    exit_code = ExitCode.DOCKER_UNAVAILABLE

    def __init__(
        self, argv: Sequence[str], returncode: int, stdout: str, stderr: str, detail: str = ""
    ) -> None:
        detail = detail or docker_reason(stderr) or f"exit code {returncode}, nothing on stderr"
        super().__init__(f"{describe_command(argv)} failed: {detail}")
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class DockerTimeoutError(DockerUnavailableError):
    """A docker command did not finish within its time limit and was killed: the daemon does
    not answer, which a pipeline must treat as it treats one that is down (exit 69)."""

    def __init__(self, argv: Sequence[str], timeout: float, attempts: int) -> None:
        tries = "" if attempts == 1 else f" ({attempts} attempts)"
        super().__init__(f"{describe_command(argv)} did not answer within {timeout:g}s{tries}")
        self.argv = tuple(argv)
        self.timeout = timeout
        self.attempts = attempts


class ParseError(DockermemError):
    """Output of a docker command that cannot be parsed."""

    def __init__(self, what: str, text: str, reason: str = "") -> None:
        shown = text if len(text) <= 80 else text[:77] + "..."
        suffix = f": {reason}" if reason else ""
        super().__init__(f"cannot parse {what} {shown!r}{suffix}")
        self.what = what
        self.text = text


class ComposeFileError(DockermemError):
    """Compose rejected the compose file: the message leads with compose's own words; `output`
    keeps all it printed."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class RunInterrupted(DockermemError):
    """A second Ctrl-C or SIGTERM while a run was already ending: it ends at once."""

    def __init__(self, signal_number: int) -> None:
        super().__init__("interrupted")
        self.exit_code = ExitCode.for_signal(signal_number)


class PreflightFailedError(DockermemError):
    """The stack does not fit: it was not started. `result` holds the figures and advice."""

    exit_code = ExitCode.CHECK_FAILED

    def __init__(self, result: PreflightResult) -> None:
        advice = " ".join(result.recommendations)
        super().__init__(f"preflight FAIL for {result.project}: {advice}".strip())
        self.result = result


class StackStartError(DockermemError):
    """The stack did not start; `outcome` holds the analysis (services, OOM kills, memory)."""

    exit_code = ExitCode.CHECK_FAILED

    def __init__(self, outcome: StartOutcome) -> None:
        failed = ", ".join(
            f"{s.service} ({s.state}, {s.health or 'no health check'})" for s in outcome.failed_services
        )
        detail = (
            outcome.memory_verdict or outcome.compose_message or outcome.engine_error or "see the analysis"
        )
        super().__init__(f"{outcome.project} did not start: {failed or 'compose failed'}. {detail}")
        self.outcome = outcome


def start_error(outcome: StartOutcome) -> DockermemError | None:
    """The error a start that did not succeed raises in the Python API (None when it did)."""
    if outcome.preflight is not None and not outcome.preflight.ok:
        return PreflightFailedError(outcome.preflight)
    return None if outcome.ok else StackStartError(outcome)


# Options of a docker command that take a value and say nothing of what was tried (compose's
# files and project); `--context` names the engine tried, and is kept.
_VALUE_OPTIONS = frozenset({"--file", "--project-name", "--profile", "--env-file"})
_HTML_TAG = re.compile(r"<[^>]*>")
# CLI 28: `context "x": context not found: open .../meta.json: ...`; 20.10: `context "x" does not exist`.
_MISSING_CONTEXT = re.compile(r'context "([^"]*)"(?:: context not found| does not exist)')
# Lines docker ends some failures with that give no reason: the usage, a pointer to the help,
# the exit status.
_NO_REASON = re.compile(r"^(?:Usage: .*|(?:Run|See) '.*--help'.*|exit status \d+)$")


def describe_command(argv: Sequence[str]) -> str:
    """A docker command in words, as a user would type it (`docker ps`, `docker --context ci
    info`, `docker compose up`): its first words, none of its options (a `--format` template
    alone runs to 500 characters). A binary not named docker is named as given."""
    program = os.path.basename(argv[0]) if argv else "docker"
    words = {"docker": ["docker"], "docker-compose": ["docker", "compose"]}.get(program, [argv[0]])
    nouns = len(words) - 1
    rest = iter(argv[1:])
    for arg in rest:
        if arg == "--context":
            words += [arg, next(rest, "")]
        elif arg in _VALUE_OPTIONS:
            next(rest, None)
        elif arg.startswith("-") or nouns == 2:
            break
        else:
            words.append(arg)
            nouns += 1
    return " ".join(words)


def docker_reason(stderr: str) -> str:
    """Docker's own reason for a failure, on one line: the last line of its stderr that says
    something (the cause comes last; not the usage, `Run 'docker ps --help'...` nor `exit
    status 1`, which some failures end with; an HTML page that a host sent instead of the API is read as
    its text)."""
    for line in reversed(stderr.splitlines()):
        text = " ".join(_HTML_TAG.sub(" ", line).split())
        if text and not _NO_REASON.match(text):
            return text
    return ""


def missing_context(stderr: str) -> str | None:
    """The docker context that the client said does not exist, if that is what it said."""
    found = _MISSING_CONTEXT.search(stderr)
    return None if found is None else found.group(1)
