"""The typed errors of dockermem, and the exit code each one maps to."""

from __future__ import annotations

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
        detail = first_line(stderr) or "no answer"
        super().__init__(f"the Docker daemon is unreachable ({' '.join(argv[:3])}): {detail}")
        self.argv = tuple(argv)
        self.stderr = stderr


class DockerCommandError(DockermemError):
    """A docker command exited non-zero for a reason other than the daemon being down."""

    def __init__(
        self, argv: Sequence[str], returncode: int, stdout: str, stderr: str, detail: str = ""
    ) -> None:
        detail = detail or first_line(stderr) or f"exit code {returncode}"
        super().__init__(f"'{' '.join(argv)}' failed: {detail}")
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class DockerTimeoutError(DockerUnavailableError):
    """A docker command did not finish within its time limit and was killed: the daemon does
    not answer, which a pipeline must treat as it treats one that is down (exit 69)."""

    def __init__(self, argv: Sequence[str], timeout: float, attempts: int) -> None:
        tries = "" if attempts == 1 else f" ({attempts} attempts)"
        super().__init__(f"'{' '.join(argv)}' did not answer within {timeout:g}s{tries}")
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


def first_line(text: str) -> str:
    """The first non-empty line of a block of text, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""
