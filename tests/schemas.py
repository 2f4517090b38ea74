"""Every JSON document dockermem prints, checked against its shipped schema (dockermem/schemas):
the integration tests' runners pass what a run printed under `--json` through `json_output`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from dockermem.cli.app import COMMANDS
from dockermem.schemas import schema_text

# A `watch --json` line's schema, by its `type`; every other type is an event.
WATCH_LINE_SCHEMAS = {"sample": "watch-sample", "summary": "watch-summary"}


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads(schema_text(name))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_name(command: str, document: dict[str, Any]) -> str:
    """The schema a document that `command` printed under --json must meet."""
    if "error" in document:
        return "error"
    if command == "watch":
        return WATCH_LINE_SCHEMAS.get(document.get("type", ""), "watch-event")
    return command


def check_document(command: str, document: dict[str, Any]) -> None:
    """Fail with every way the document breaks its schema."""
    name = schema_name(command, document)
    errors = sorted(validator(name).iter_errors(document), key=lambda error: list(error.absolute_path))
    assert not errors, (
        f"`{command} --json` printed what schema {name!r} refuses:\n"
        + "\n".join(
            f"  at {'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}" for error in errors
        )
        + f"\n{json.dumps(document)}"
    )


def asks_for_json(args: Sequence[str]) -> bool:
    """Whether the arguments after `dockermem` ask for JSON output (`--json`, `--format json`)."""
    pairs = zip(args, [*args[1:], ""], strict=True)
    return "--json" in args or any(option == "--format" and value == "json" for option, value in pairs)


def dockermem_args(argv: object) -> list[str]:
    """The arguments after `python -m dockermem` (or `dockermem`) in a process's argv (its
    `args`); none when the process was not given a list."""
    words = [str(arg) for arg in argv] if isinstance(argv, list | tuple) else []
    position = next((index for index, word in enumerate(words) if word.endswith("dockermem")), len(words))
    return words[position + 1 :]


def json_output(args: Sequence[str], stdout: str) -> list[dict[str, Any]]:
    """Every line of a run's stdout as JSON, each checked against its schema; `args`: those
    after `dockermem`, the command first."""
    command = next((arg for arg in args if arg in COMMANDS), "")
    documents = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    for document in documents:
        check_document(command, document)
    return documents


def check_json_output(args: Sequence[str], stdout: str) -> None:
    """Under --json, every line the run printed meets its schema."""
    if asks_for_json(args):
        json_output(args, stdout)
