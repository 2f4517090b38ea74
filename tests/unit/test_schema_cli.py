"""`dockermem schema NAME`: every shipped schema, printed as a valid draft 2020-12 JSON Schema;
an unknown name is a one-line error and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from jsonschema import Draft202012Validator

from dockermem.schemas import schema_names

# The documents of issue 19's list, the error object, and the line types of `watch --json`.
EXPECTED_NAMES = (
    "cleanup", "error", "fit", "health", "preflight", "report", "stats",
    "watch-event", "watch-sample", "watch-summary",
)  # fmt: skip


def run_schema(*args: str) -> subprocess.CompletedProcess[str]:
    # No timeout of subprocess's own: it waits in time.sleep, which libfaketime's clock guard
    # breaks (EINVAL); pytest-timeout bounds the test.
    return subprocess.run(
        [sys.executable, "-m", "dockermem", "schema", *args], capture_output=True, text=True
    )


def test_every_document_has_a_schema() -> None:
    assert schema_names() == EXPECTED_NAMES


def test_list_prints_every_name_a_line() -> None:
    result = run_schema("--list")
    assert result.returncode == 0
    assert tuple(result.stdout.splitlines()) == EXPECTED_NAMES


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_prints_a_draft_2020_12_schema(name: str) -> None:
    result = run_schema(name)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("args", [("nope",), ()])
def test_an_unknown_or_missing_name_is_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    result = run_schema(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("dockermem: ")
    assert all(name in line for name in EXPECTED_NAMES)
