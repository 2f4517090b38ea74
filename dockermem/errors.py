"""The typed errors of dockermem, and the exit code each one maps to."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes, the same across every command (documented in the README)."""

    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    DOCKER_UNAVAILABLE = 69
    INTERRUPTED = 130
    TERMINATED = 143


class DockermemError(Exception):
    """Base of every error dockermem reports to its user as one line."""

    exit_code: ExitCode = ExitCode.CHECK_FAILED


class ConfigError(DockermemError):
    """A bad flag, environment variable or config file value."""

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


def first_line(text: str) -> str:
    """The first non-empty line of a block of text, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""
