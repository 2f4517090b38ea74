"""Bad input to the real command (issue 6 §2): each is refused with exit code 2 and a message
that names the bad value, never a traceback. dockermem's own refusals are one line on stderr;
typer/click usage errors are their few lines (Usage, Try, Error).

Refusals that need no docker happen before any docker call: docker is a stand-in here (both
DOCKERMEM_DOCKER_BINARY and the first `docker` on PATH) that logs every call, and the log
stays empty. Only the invalid compose file needs the real engine: compose itself rejects it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, ReliabilityRecorder
from tests.integration.realdocker import dockermem

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

FITS = str(REPO / "compose" / "test" / "fits.yaml")
INVALID = str(REPO / "compose" / "test" / "invalid.yaml")
# How to run each command so that only the bad input stands between it and docker.
COMMANDS: dict[str, tuple[str, ...]] = {
    "health": ("health",),
    "stats": ("stats",),
    "preflight": ("preflight", "-f", FITS),
    "up": ("up", "-f", FITS),
    "cleanup": ("cleanup", "-p", "dockermem-bad-input", "--dry-run"),
    "watch": ("watch", "--duration", "1"),
}


@dataclass(frozen=True)
class StandIn:
    """A docker that records each call and fails it."""

    log: Path
    environment: dict[str, str]

    def calls(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


@pytest.fixture
def stand_in(tmp_path: Path) -> StandIn:
    bin_dir = tmp_path / "stand-in-bin"
    bin_dir.mkdir()
    log = tmp_path / "docker-calls.log"
    script = bin_dir / "docker"
    script.write_text(f'#!/bin/sh\necho "docker $*" >> "{log}"\necho "stand-in docker" >&2\nexit 1\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    environment = dict(os.environ)
    environment["DOCKERMEM_DOCKER_BINARY"] = str(script)
    environment["PATH"] = f"{bin_dir}{os.pathsep}{environment.get('PATH', '')}"
    return StandIn(log, environment)


_SEEN: dict[str, str] = {}


@pytest.fixture(autouse=True)
def record_refusal(request: pytest.FixtureRequest, reliability: ReliabilityRecorder) -> Iterator[None]:
    """Each case goes into docs/reliability.md with what the command answered."""
    _SEEN.clear()
    yield
    what = request.node.originalname.removeprefix("test_").replace("_", " ")
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None:
        what += " (" + ", ".join(f"{key}={value!r}" for key, value in callspec.params.items()) + ")"
    expected = "exit 2, the bad value named, no traceback, no docker call"
    reliability("bad input", what, expected, _SEEN.get("answer", "not reached"))


def assert_refused(result: subprocess.CompletedProcess[str], *named: str, usage: bool = False) -> None:
    """Exit 2, the bad value named on stderr, no traceback; one line unless a usage error."""
    error_lines = [line for line in result.stderr.splitlines() if line.startswith(("Error", "dockermem:"))]
    _SEEN["answer"] = (
        f"exit {result.returncode}: {error_lines[-1] if error_lines else result.stderr.strip()[:120]}"
    )
    shown = f"exit {result.returncode}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.returncode == 2, shown
    assert "Traceback" not in result.stderr + result.stdout, shown
    for value in named:
        assert value in result.stderr, f"{value!r} not named\n{shown}"
    if usage:
        assert "Usage: " in result.stderr and "Error: " in result.stderr, shown
    else:
        assert len(result.stderr.strip().splitlines()) == 1, shown
        assert result.stderr.startswith("dockermem: "), shown


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"DOCKER_MAX_MEMORY_GB": "abc"}, ("DOCKER_MAX_MEMORY_GB", "'abc'")),
        ({"DOCKER_MAX_MEMORY_GB": "-1"}, ("DOCKER_MAX_MEMORY_GB", "'-1'")),
        ({"DOCKER_MAX_MEMORY_GB": "nan"}, ("DOCKER_MAX_MEMORY_GB", "'nan'")),
        ({"DOCKER_MAX_CONTAINERS": "1.5"}, ("DOCKER_MAX_CONTAINERS", "'1.5'")),
        ({"DOCKERMEM_WARNING_PERCENT": "80", "DOCKERMEM_CRITICAL_PERCENT": "70"}, ("80", "70")),
    ],
    ids=["memory-abc", "memory-negative", "memory-nan", "containers-fraction", "thresholds-out-of-order"],
)
def test_a_bad_setting_is_refused_before_any_docker_call(
    stand_in: StandIn, command: str, variables: dict[str, str], named: tuple[str, ...]
) -> None:
    result = dockermem(*COMMANDS[command], env={**stand_in.environment, **variables}, timeout=60)
    assert_refused(result, *named)
    assert stand_in.calls() == ""


@pytest.mark.parametrize("command", ["preflight", "up"])
def test_an_unknown_profile_is_refused_before_any_docker_call(stand_in: StandIn, command: str) -> None:
    result = dockermem(*COMMANDS[command], "--memory-profile", "nope", env=stand_in.environment, timeout=60)
    assert_refused(result, "'nope'")
    assert stand_in.calls() == ""


@pytest.mark.parametrize("command", ["preflight", "up"])
def test_an_invalid_compose_file_gives_composes_message(command: str) -> None:
    """The real compose rejects the file (tests/fixtures/compose-config/invalid.stderr)."""
    result = dockermem(command, "-f", INVALID, timeout=120)
    assert_refused(result, "invalid.yaml", "services.broken.mem_limit must be a number or string")


@pytest.mark.parametrize(
    "command", [("preflight",), ("up",), ("up", "--no-preflight")], ids=["preflight", "up", "up-no-preflight"]
)
def test_a_service_the_files_do_not_declare_is_bad_usage(command: tuple[str, ...]) -> None:
    """The real compose names it (tests/fixtures/compose-config/no-such-service.stderr)."""
    result = dockermem(*command, "-f", FITS, "-p", "dockermem-bad-input", "nosuchsvc", timeout=120)
    assert_refused(result)
    assert result.stderr == "dockermem: no such service: nosuchsvc\n"
    assert "did not start" not in result.stdout


def test_under_json_a_service_the_files_do_not_declare_is_a_json_error() -> None:
    result = dockermem("preflight", "--json", "-f", FITS, "nosuchsvc", timeout=120)
    assert_refused(result, "no such service: nosuchsvc")
    document = json.loads(result.stdout)
    assert document == {"schema": 1, "ok": False, "error": "no such service: nosuchsvc", "exit_code": 2}


@pytest.mark.parametrize(
    ("flag", "value"), [("--interval", "0"), ("--duration", "-5"), ("--interval", "nan"), ("--duration", "x")]
)
def test_watch_refuses_a_bad_interval_or_duration(stand_in: StandIn, flag: str, value: str) -> None:
    result = dockermem("watch", flag, value, env=stand_in.environment, timeout=60)
    assert_refused(result, flag, value, usage=True)
    assert stand_in.calls() == ""


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("project", ["--all", "$(reboot)", "UPPER", "a;rm -rf /", "-p", ""])
def test_a_project_name_that_could_inject_is_refused_before_any_docker_call(
    stand_in: StandIn, command: str, project: str
) -> None:
    arguments = list(COMMANDS[command])
    if command == "cleanup":  # its scope is the project under test
        arguments = ["cleanup", "--dry-run"]
    result = dockermem(*arguments, "-p", project, env=stand_in.environment, timeout=60)
    assert_refused(result, repr(project), usage=True)
    assert stand_in.calls() == ""


@pytest.mark.parametrize("service", [";rm", "--force", "$(reboot)", "a b", "-d", "../etc"])
def test_up_refuses_a_service_name_that_could_inject_before_any_docker_call(
    stand_in: StandIn, service: str
) -> None:
    result = dockermem("up", "-f", FITS, "--", service, env=stand_in.environment, timeout=60)
    assert_refused(result, repr(service), usage=True)
    assert stand_in.calls() == ""


@pytest.mark.parametrize(
    ("args", "named", "usage"),
    [
        (("stats", "--json", "--bogus"), "No such option: --bogus", True),
        (("health", "--json", "-p", "Bad Name"), "'Bad Name' is not a compose project name", True),
        (("report", "--json", "--since", "soon"), "'soon' is not a duration", False),
        (("preflight", "--json", "--memory-profile", "nope", "-f", FITS), "unknown profile 'nope'", False),
    ],
    ids=["unknown-option", "bad-project", "bad-since", "unknown-memory-profile"],
)
def test_under_json_bad_input_is_a_json_error_too(
    stand_in: StandIn, args: tuple[str, ...], named: str, usage: bool
) -> None:
    # A program that parses stdout meets an error object, never an empty string.
    result = dockermem(*args, env=stand_in.environment, timeout=60)
    assert_refused(result, named, usage=usage)
    document = json.loads(result.stdout)
    assert (document["schema"], document["ok"], document["exit_code"]) == (1, False, 2)
    assert named in document["error"]
    assert stand_in.calls() == ""


@pytest.mark.parametrize(
    ("args", "variables", "named"),
    [
        (("--alert-webhook", "notaurl"), {}, "--alert-webhook"),
        (("--alert-webhook", "http://"), {}, "--alert-webhook"),
        ((), {"DOCKERMEM_ALERT_WEBHOOK": "ftp://x"}, "DOCKERMEM_ALERT_WEBHOOK"),
        (("--scale", "web=1..2"), {}, "--autoscale"),
    ],
    ids=["webhook-not-a-url", "webhook-no-host", "webhook-env-ftp", "scale-without-autoscale"],
)
def test_watch_json_refusal_is_a_json_error_too(
    stand_in: StandIn, args: tuple[str, ...], variables: dict[str, str], named: str
) -> None:
    # watch's own checks, as every other command's: the error object on stdout under --json.
    result = dockermem(
        "watch", "--json", "--duration", "1", *args, env={**stand_in.environment, **variables}, timeout=60
    )
    assert_refused(result, named)
    document = json.loads(result.stdout)
    assert (document["schema"], document["ok"], document["exit_code"]) == (1, False, 2)
    assert named in document["error"]
    assert stand_in.calls() == ""
