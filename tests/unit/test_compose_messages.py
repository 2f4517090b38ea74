"""What compose's stderr says went wrong, in one line: recorded and typical outputs."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from dockermem.docker.compose import compose_failure_message
from dockermem.docker.parse import parse_replicas, removed_names
from dockermem.errors import ExitCode, UnknownServiceError
from tests.conftest import FIXTURES
from tests.replay import Answer, replayed


def test_a_missing_env_file_leads_and_repeated_warnings_are_dropped() -> None:
    # Recorded: three "variable is not set" warnings (two alike), then the cause.
    stderr = (FIXTURES / "compose-config" / "env-file-missing.stderr").read_text()
    message = compose_failure_message(stderr)
    assert message.startswith("env file ") and message.endswith("no such file or directory")
    assert "variable is not set" not in message


def test_a_file_compose_rejects_is_its_own_line() -> None:
    stderr = (FIXTURES / "compose-config" / "invalid.stderr").read_text()
    assert compose_failure_message(stderr) == stderr.strip()


def test_a_service_the_files_do_not_declare_is_bad_usage_in_composes_words() -> None:
    # Recorded: `config --format json -- nosuchsvc` of compose/test/fits.yaml.
    folder = FIXTURES / "compose-config"
    stderr = (folder / "no-such-service.stderr").read_text()
    returncode = int((folder / "no-such-service.exitcode").read_text())
    answer = Answer(r"config --format json -- nosuchsvc$", stderr=stderr, returncode=returncode)
    client, runner = replayed(answer)

    async def config() -> None:
        await client.compose.config([Path("fits.yaml")], None, services=["nosuchsvc"])

    with pytest.raises(UnknownServiceError) as raised:
        anyio.run(config)
    assert (str(raised.value), raised.value.service) == ("no such service: nosuchsvc", "nosuchsvc")
    assert raised.value.exit_code is ExitCode.USAGE
    assert runner.calls == ["compose --file fits.yaml config --format json -- nosuchsvc"]


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            " Container p-db-1  Started\n Container p-api-1  Waiting\ncontainer p-api-1 is unhealthy\n",
            "container p-api-1 is unhealthy",
        ),
        (
            " Container p-api-1  Started\ndependency failed to start: container p-db-1 is unhealthy\n"
            "Error response from daemon: x\nError response from daemon: x\n",
            "dependency failed to start: container p-db-1 is unhealthy; Error response from daemon: x",
        ),
        (
            " Container p-api-1  Started\napplication not healthy after 40s\n",
            "application not healthy after 40s",
        ),
        ('time="t" level=warning msg="only a \\"warning\\""\n', 'only a "warning"'),
        ("WARN[0000] terminal warning\n", "terminal warning"),
        ("", ""),
    ],
    ids=["unhealthy", "failures-once", "last-line", "only-a-warning", "terminal-warning", "nothing"],
)
def test_compose_failure_message(stderr: str, expected: str) -> None:
    assert compose_failure_message(stderr) == expected


def test_removal_names_what_docker_printed_and_keeps_its_refusals() -> None:
    ids = ["a" * 64, "b" * 64]
    removal = removed_names(ids, "a" * 12 + "\n", "Error response from daemon: cannot remove b: running\n")
    assert removal.removed == ("a" * 64,)
    assert removal.refused == ("Error response from daemon: cannot remove b: running",)


def test_a_replica_number_that_is_not_a_count_is_none() -> None:
    line = '"id" "/p-w-1" "2026-11-30T10:00:00.5Z" "running" "²"'
    [replica] = parse_replicas(line)
    assert (replica.name, replica.number, replica.created) == (
        "p-w-1",
        None,
        "2026-11-30T10:00:00.500000000Z",
    )
