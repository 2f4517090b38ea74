"""The README's JSON contract and the shipped schemas list the same fields, both ways: a field
the README documents that a schema lacks, or one a schema has that the README does not
document, fails here.

The README writes a document as JSON with its values left out (`{"schema": 1, "host":
{"memory_total_bytes", ...}, "containers": [{"id", ...}]}`), with remarks in parentheses; what
is read of it is the field names, by where they stand: `host.memory_total_bytes`,
`containers.id` (a list's items are not a level of their own)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dockermem.schemas import schema_names, schema_text
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
CONTRACT = README.split("## JSON contract (schema 1)", 1)[1].split("\n## ", 1)[0]
SNAPSHOT_BLOCK = '```\n{"schema": 1, "taken_at"'

# Each document's schema, and the openings of the README's paragraphs (or code block) that list
# its fields. The events of `watch --json` are the table of "### Events".
DOCUMENTED = {
    "health": (SNAPSHOT_BLOCK, "`health --json` adds"),
    "stats": (SNAPSHOT_BLOCK, "`stats --json` adds"),
    "report": ("`report --json`:",),
    "preflight": ("`preflight --json`:",),
    "error": ("Under `--json`, a command that fails",),
    "cleanup": ("`cleanup --json`:",),
    "fit": ("`fit --json`:",),
    "watch-sample": ("`watch --json` prints one object per line",),
    "watch-summary": ("When the watch ends, its summary:",),
}
EVENTS = CONTRACT.split("### Events", 1)[1]
EVENT_COMMON = "Under `watch --json` each is a line"

TOKEN = re.compile(r'"([^"]*)"|([{}:,])')
REMARK = re.compile(r"\([^()]*\)")


def fragment(text: str, opening: str) -> str:
    """From `opening` to the end of its paragraph (or its code block)."""
    start = text.index(opening)
    if opening.startswith("```"):
        return text[start + 3 : text.index("```", start + 3)]
    end = text.find("\n\n", start)
    return text[start : len(text) if end == -1 else end]


def code_of(text: str) -> str:
    """What stands in `code spans` (a fragment of a code block is all code), remarks left out;
    one span's names end where it ends."""
    code = ", ".join(re.findall(r"`([^`]+)`", text)) if "`" in text else text
    while REMARK.search(code):
        code = REMARK.sub(" ", code)
    return code


def documented_fields(text: str) -> set[str]:
    """The field paths of a document as the README writes it: a name is a field unless it is a
    value (after a colon); `{` after `"name":` (or `"a"|"b":`) opens the fields of each name."""
    paths: set[str] = set()
    levels: list[list[str]] = [[""]]
    names: list[str] = []
    after_colon = False

    def flush() -> None:
        paths.update(join(prefix, name) for prefix in levels[-1] for name in names)
        names.clear()

    for match in TOKEN.finditer(code_of(text)):
        name, mark = match.groups()
        if name is not None:
            if not after_colon:
                names.append(name)
        elif mark == ":":
            after_colon = True
        elif mark == "{":
            opened = [join(prefix, each) for prefix in levels[-1] for each in names] if after_colon else []
            flush()
            levels.append(opened or list(levels[-1]))
            after_colon = False
        elif mark == "}":
            flush()
            levels.pop()
            after_colon = False
        else:  # ","
            flush()
            after_colon = False
    flush()
    return paths


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def load(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_text(name))
    return schema


def schema_fields(node: dict[str, Any], root: dict[str, Any], prefix: str = "") -> set[str]:
    """The field paths a schema allows (through `$ref`s and list items; not `allOf`, whose
    branches are the events' own fields)."""
    if "$ref" in node:
        node = root["$defs"][node["$ref"].removeprefix("#/$defs/")]
    paths: set[str] = set()
    for name, sub in node.get("properties", {}).items():
        path = join(prefix, name)
        paths |= {path} | schema_fields(sub, root, path)
    if isinstance(node.get("items"), dict):
        paths |= schema_fields(node["items"], root, prefix)
    return paths


def event_rows() -> dict[str, set[str]]:
    """Each event type of the Events table, with its own fields."""
    rows: dict[str, set[str]] = {}
    for line in EVENTS.splitlines():
        cells = line.strip().strip("|").split(" | ")
        if len(cells) != 3 or not cells[0].strip().startswith("`"):
            continue
        for kind in re.findall(r"`([a-z-]+)`", cells[0]):
            rows[kind] = documented_fields(cells[2]) if cells[2].strip() else set()
    return rows


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_a_document_s_fields_are_its_schema_s(name: str) -> None:
    documented = set().union(
        *(documented_fields(fragment(CONTRACT, opening)) for opening in DOCUMENTED[name])
    )
    schema = load(name)
    in_schema = schema_fields(schema, schema)
    assert sorted(documented - in_schema) == [], "documented in the README, missing from the schema"
    assert sorted(in_schema - documented) == [], "in the schema, not documented in the README"


def test_every_schema_is_documented() -> None:
    assert set(schema_names()) == {*DOCUMENTED, "watch-event"}


def test_the_event_types_are_the_schema_s() -> None:
    schema = load("watch-event")
    assert sorted(event_rows()) == sorted(schema["properties"]["type"]["enum"])


@pytest.mark.parametrize("kind", sorted(event_rows()))
def test_an_event_s_fields_are_its_schema_s(kind: str) -> None:
    schema = load("watch-event")
    common = documented_fields(fragment(EVENTS, EVENT_COMMON))
    documented = common | event_rows()[kind]
    own: dict[str, Any] = next(
        (branch["then"] for branch in schema["allOf"] if branch["if"]["properties"]["type"]["const"] == kind),
        {},
    )
    in_schema = schema_fields(schema, schema) | schema_fields(own, schema)
    assert sorted(documented - in_schema) == [], "documented in the README, missing from the schema"
    assert sorted(in_schema - documented) == [], "in the schema, not documented in the README"


def test_the_reading_of_the_readme_finds_nested_and_alternative_fields() -> None:
    text = '`{"schema": 1, "a": "x", "b" ("p"|"q"), "c": {"d", "e": [{"f"}]}, "g"|"h": {"i"}, "j": [str]}`'
    assert documented_fields(text) == {
        "schema",
        "a",
        "b",
        "c",
        "c.d",
        "c.e",
        "c.e.f",
        "g",
        "h",
        "g.i",
        "h.i",
        "j",
    }
