"""How a failed docker command becomes one typed error and one short line, on the stderr the
real docker clients printed (tests/fixtures/docker-errors/, CLI 28.2 and 20.10)."""

from __future__ import annotations

import pytest

from dockermem.docker.parse import JSON_FORMAT, info_server_errors
from dockermem.docker.runner import endpoint_named, failure_error
from dockermem.errors import (
    DaemonUnreachableError,
    DockerCommandError,
    DockerEndpointError,
    DockermemError,
    ExitCode,
    NotAnEngineError,
    describe_command,
    docker_reason,
)
from tests.conftest import FIXTURES

ERRORS = FIXTURES / "docker-errors"
# The `docker ps` of a snapshot, its template as long as it is.
PS_ARGV = ["/usr/local/bin/docker", "ps", "--all", "--no-trunc", "--format", '{"ID":{{json .ID}}' + "x" * 400]
CLIS = ["cli28", "cli20"]


def stderr_of(case: str, cli: str) -> str:
    return (ERRORS / f"{case}-{cli}.stderr").read_text()


def assert_one_short_line(error: DockermemError, *named: str) -> None:
    message = str(error)
    assert "\n" not in message and len(message) <= 200 and "{{" not in message, message
    for text in named:
        assert text in message, message


@pytest.mark.parametrize("cli", CLIS)
@pytest.mark.parametrize(
    ("case", "argv", "context"),
    [
        ("ctx-env", PS_ARGV, "nosuch"),
        (
            "ctx-flag",
            ["/usr/local/bin/docker", "--context", "nosuchctx", "info", "--format", JSON_FORMAT],
            "nosuchctx",
        ),
    ],
)
def test_a_context_that_does_not_exist_is_bad_configuration_named_once(
    cli: str, case: str, argv: list[str], context: str
) -> None:
    error = failure_error(argv, 1, stderr_of(case, cli))
    assert isinstance(error, DockerEndpointError) and error.exit_code is ExitCode.USAGE
    assert error.context == context
    assert_one_short_line(error, f'docker context "{context}" does not exist', describe_command(argv))
    assert "meta.json" not in str(error)


@pytest.mark.parametrize("cli", CLIS)
def test_a_host_the_client_cannot_read_is_bad_configuration(cli: str) -> None:
    error = failure_error(PS_ARGV, 1, stderr_of("badhost", cli))
    assert isinstance(error, DockerEndpointError) and error.exit_code is ExitCode.USAGE
    assert error.context is None
    assert_one_short_line(error, "docker ps: ", "bind address format: bogus://x")


@pytest.mark.parametrize("cli", CLIS)
@pytest.mark.parametrize(
    ("case", "host"), [("tcp-refused", "tcp://127.0.0.1:1"), ("nosock", "unix:///nope.sock")]
)
def test_a_daemon_that_does_not_answer_is_unavailable(cli: str, case: str, host: str) -> None:
    error = failure_error(PS_ARGV, 1, stderr_of(case, cli))
    assert isinstance(error, DaemonUnreachableError) and error.exit_code is ExitCode.DOCKER_UNAVAILABLE
    assert_one_short_line(error, "(docker ps)", f"Cannot connect to the Docker daemon at {host}")


@pytest.mark.parametrize("cli", CLIS)
def test_a_web_page_where_the_api_was_asked_is_no_engine(cli: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:18999")
    error = failure_error(PS_ARGV, 1, stderr_of("http", cli))
    assert isinstance(error, NotAnEngineError) and error.exit_code is ExitCode.DOCKER_UNAVAILABLE
    assert_one_short_line(
        error,
        "docker ps: tcp://127.0.0.1:18999 answered, but not as a Docker engine",
        "404 - Nothing matches",
    )
    assert "<" not in str(error)


def test_any_other_failure_names_the_command_in_words_and_dockers_last_line() -> None:
    stderr = "some warning\nError response from daemon: No such container: nope\n\n"
    error = failure_error(["/usr/local/bin/docker", "container", "inspect", "a" * 64, "b" * 64], 1, stderr)
    assert isinstance(error, DockerCommandError) and error.exit_code is ExitCode.DOCKER_UNAVAILABLE
    assert (
        str(error) == "docker container inspect failed: Error response from daemon: No such container: nope"
    )
    assert str(failure_error(["/bin/false", *PS_ARGV[1:]], 1, "")) == (
        "/bin/false ps failed: exit code 1, nothing on stderr"
    )


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (PS_ARGV, "docker ps"),
        (["/usr/bin/docker", "--context", "ci", "info", "--format", JSON_FORMAT], "docker --context ci info"),
        (
            ["/usr/local/lib/docker/cli-plugins/docker-compose", "--context", "ci", "--file", "/a/b.yaml",
             "--project-name", "web", "--profile", "x", "up", "-d", "--wait"],
            "docker compose --context ci up",
        ),
        (["docker", "compose", "--file", "c.yaml", "config", "--format", "json"], "docker compose config"),
        (["/usr/local/bin/docker", "rm", "--volumes", "--", "abc"], "docker rm"),
        (["/opt/wrapper", "events", "--since", "1"], "/opt/wrapper events"),
    ],
)  # fmt: skip
def test_a_command_is_described_in_words(argv: list[str], words: str) -> None:
    assert describe_command(argv) == words


def test_dockers_reason_is_its_last_line_that_says_something() -> None:
    assert (
        docker_reason(stderr_of("http", "cli28"))
        == "Error code explanation: 404 - Nothing matches the given URI."
    )
    assert docker_reason("first\n  \nlast one  \n\n") == "last one"
    assert docker_reason("") == ""
    # Lines that end some failures without a reason: the exit status, a pointer to the help.
    assert docker_reason(stderr_of("network-rm-missing", "cli28")) == (
        "Error response from daemon: network nosuch not found"
    )
    assert docker_reason(stderr_of("unknown-flag", "cli28")) == "unknown flag: --nosuchflag"


def test_the_engine_tried_is_named_as_the_client_chooses_it() -> None:
    assert endpoint_named(["docker", "--context", "ci", "ps"], {"DOCKER_HOST": "tcp://h:1"}) == 'context "ci"'
    assert (
        endpoint_named(["docker", "ps"], {"DOCKER_HOST": "tcp://h:1", "DOCKER_CONTEXT": "x"}) == "tcp://h:1"
    )
    assert endpoint_named(["docker", "ps"], {"DOCKER_CONTEXT": "x"}) == 'context "x"'
    assert endpoint_named(["docker", "ps"], {}) == "the current docker context's endpoint"


@pytest.mark.parametrize(
    ("case", "error_type"), [("http-info", NotAnEngineError), ("nosock-info", DaemonUnreachableError)]
)
def test_docker_info_that_exits_0_without_an_engine_is_still_a_failure(
    case: str, error_type: type[DockermemError]
) -> None:
    # CLI 20.10's `docker info --format '{{json .}}'` exits 0 and says why in ServerErrors only.
    server_errors = info_server_errors((ERRORS / f"{case}-cli20.stdout").read_text())
    assert server_errors
    assert isinstance(failure_error(["docker", "info"], 0, server_errors), error_type)
    assert info_server_errors((FIXTURES / "info" / "engine-20.10.json").read_text()) == ""
    assert info_server_errors("not json") == ""
