"""`docker compose ...`: config, ps, up, scale and down, and what compose's stderr says went wrong."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from dockermem.docker.models import ComposeContainer, ComposeProjectConfig, ComposeRun
from dockermem.docker.parse import parse_compose_config, parse_compose_ps
from dockermem.docker.runner import CommandResult, DockerRunner, failure_error
from dockermem.errors import ComposeFileError, DockerUnavailableError, UnknownServiceError

# Compose logs in logfmt (`time="..." level=warning msg="The \"X\" variable is not set..."`),
# or as `WARN[0000] ...` on a terminal.
COMPOSE_LOG = re.compile(r'^(?:time="[^"]*"\s+)?level=(\w+)\s+msg=("(?:[^"\\]|\\.)*"|\S+)')
COMPOSE_TERMINAL_WARNING = re.compile(r"^WARN(?:ING)?\[\d+\]\s*")
# A line of compose's progress (" Container p-api-1  Started"), which names no cause.
COMPOSE_PROGRESS = re.compile(r"^\s*(Container|Network|Volume|Image)\s+\S+\s+\S+\s*$")
# Words by which a line of compose's stderr says what failed.
FAILURE_WORDS = re.compile(r"error|unhealthy|not found|failed|invalid|denied|no such", re.IGNORECASE)
MAX_FAILURE_LINES = 3
# Compose's refusal of a service name the files do not declare (it names the first only).
NO_SUCH_SERVICE = re.compile(r"no such service: (?P<service>\S+)")


def compose_failure_message(stderr: str) -> str:
    """What compose said went wrong, in one line: its failure lines (the last three), else its
    last line; warnings (often repeated: "variable is not set") only when nothing else was said.
    Each line once, log lines by their message alone."""
    warnings: list[str] = []
    said: list[str] = []
    for raw in stderr.splitlines():
        line, warning = _compose_line(raw)
        if line and not COMPOSE_PROGRESS.match(line):
            (warnings if warning else said).append(line)
    warnings, said = list(dict.fromkeys(warnings)), list(dict.fromkeys(said))
    failures = [line for line in said if FAILURE_WORDS.search(line)]
    if failures:
        return "; ".join(failures[-MAX_FAILURE_LINES:])
    if said:
        return said[-1]
    return warnings[-1] if warnings else ""


def _compose_line(raw: str) -> tuple[str, bool]:
    """One line of compose's stderr: its text (a log line's message alone), and whether it is
    a warning."""
    line = raw.strip()
    logged = COMPOSE_LOG.match(line)
    if logged is not None:
        level, message = logged.groups()
        if message.startswith('"'):
            message = message[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return message.strip(), level.lower().startswith("warn")
    terminal = COMPOSE_TERMINAL_WARNING.match(line)
    if terminal is not None:
        return line[terminal.end() :].strip(), True
    return line, False


def compose_args(
    files: Sequence[Path], project: str | None, profiles: Sequence[str] = (), env_files: Sequence[Path] = ()
) -> list[str]:
    """`docker compose` with its file, project, profile and env-file options."""
    args = ["compose"]
    for file in files:
        args += ["--file", str(file)]
    if project is not None:
        args += ["--project-name", project]
    for profile in profiles:
        args += ["--profile", profile]
    for env_file in env_files:
        args += ["--env-file", str(env_file)]
    return args


class ComposeCommands:
    """`docker compose ...` for one engine."""

    def __init__(self, runner: DockerRunner) -> None:
        self.runner = runner

    async def config(
        self,
        files: Sequence[Path],
        project: str | None = None,
        profiles: Sequence[str] = (),
        env_files: Sequence[Path] = (),
        services: Sequence[str] = (),
    ) -> ComposeProjectConfig:
        """What compose makes of the given files (its interpolation, overrides and extends),
        with the compose profiles given enabled. With `services`, what `up SERVICE...` starts:
        those services and what they depend on (transitively), with the profiles of those named
        enabled, and only the networks and volumes they use. A file compose rejects is a
        `ComposeFileError` that leads with compose's own words; a service it does not declare,
        an `UnknownServiceError`."""
        args = [*compose_args(files, project, profiles, env_files), "config", "--format", "json"]
        if services:
            args += ["--", *services]
        result = await self.runner.run(args, check=False)
        self._raise_rejected(result)
        return parse_compose_config(result.stdout)

    async def profiles(
        self, files: Sequence[Path], project: str | None = None, env_files: Sequence[Path] = ()
    ) -> list[str]:
        """The compose profiles the files declare (`docker compose config --profiles`)."""
        result = await self.runner.run(
            [*compose_args(files, project, (), env_files), "config", "--profiles"], check=False
        )
        self._raise_rejected(result)
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    @staticmethod
    def _raise_rejected(result: CommandResult) -> None:
        if result.returncode == 0:
            return
        error = failure_error(result.argv, result.returncode, result.stderr)
        if isinstance(error, DockerUnavailableError):
            raise error
        message = compose_failure_message(result.stderr) or f"exit code {result.returncode}"
        unknown = NO_SUCH_SERVICE.fullmatch(message)
        if unknown is not None:
            raise UnknownServiceError(unknown["service"])
        raise ComposeFileError(f"compose rejected the file: {message}", result.stderr)

    async def ps(self, files: Sequence[Path], project: str | None = None) -> list[ComposeContainer]:
        """The containers of a compose project, stopped ones included."""
        result = await self.runner.run([*compose_args(files, project), "ps", "--all", "--format", "json"])
        return parse_compose_ps(result.stdout)

    async def up(
        self,
        files: Sequence[Path],
        project: str | None,
        services: Sequence[str],
        wait_timeout: float,
        extra_args: Sequence[str] = (),
        profiles: Sequence[str] = (),
        env_files: Sequence[Path] = (),
    ) -> ComposeRun:
        """`docker compose up -d --wait`; never retried; SIGINT first when cancelled."""
        args = [*compose_args(files, project, profiles, env_files), "up", "--detach", "--wait"]
        args += ["--wait-timeout", str(max(1, round(wait_timeout))), *extra_args, "--", *services]
        result = await self.runner.run(
            args, time_limit=wait_timeout + 120, retries=0, check=False, grace_seconds=10
        )
        return ComposeRun(result.returncode, compose_failure_message(result.stderr), result.stderr)

    async def scale(
        self,
        files: Sequence[Path],
        project: str | None,
        service: str,
        replicas: int,
        wait_timeout: float,
        stop_timeout: int,
    ) -> None:
        """`docker compose up --scale SERVICE=N` for one service, leaving every other container
        as it is (`--no-recreate --no-deps`). Going down, compose stops and removes the
        highest-numbered replicas (their stop grace is `stop_timeout`); going up, it adds
        replicas numbered after the highest and waits for them to be healthy. A failure is a
        `DockerCommandError` that says what compose said."""
        args = [*compose_args(files, project), "up", "--detach", "--wait", "--no-recreate", "--no-deps"]
        args += ["--wait-timeout", str(max(1, round(wait_timeout))), "--timeout", str(stop_timeout)]
        args += ["--scale", f"{service}={replicas}", "--", service]
        result = await self.runner.run(
            args, time_limit=wait_timeout + 120, retries=0, check=False, grace_seconds=10
        )
        if result.returncode != 0:
            message = compose_failure_message(result.stderr)
            raise failure_error(result.argv, result.returncode, result.stderr, detail=message)

    async def down(
        self,
        files: Sequence[Path],
        project: str | None,
        profiles: Sequence[str] = (),
        env_files: Sequence[Path] = (),
    ) -> ComposeRun:
        """`docker compose down` (containers and networks; named volumes are kept)."""
        args = [
            *compose_args(files, project, profiles, env_files),
            "down",
            "--remove-orphans",
            "--timeout",
            "5",
        ]
        result = await self.runner.run(args, time_limit=180, retries=0, check=False)
        return ComposeRun(result.returncode, compose_failure_message(result.stderr), result.stderr)
