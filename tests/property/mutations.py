"""Bad input for the property tests: random text, and real docker outputs (tests/fixtures/)
mutated the ways a cut pipe, a newer docker or a terminal would mutate them: characters and
bytes flipped, text cut short, pieces deleted or duplicated, junk inserted, and, inside the
JSON, values replaced by values of other types and keys dropped.

Hypothesis spends about 0.35 ms on an example on this 2-core machine before the test body
runs, and each further draw (and `map`) adds about 0.15 ms: more than parsing the input costs.
So each example of a test is made from ONE draw of bytes, which `Choices` reads decisions
from (which fixture, which operation, where, what to insert): 64 bytes for each input, one
draw feeding several parsers their own inputs (`together`). Hypothesis still shrinks it:
smaller bytes mean fewer and simpler mutations, and zeros mean the first recorded output
unchanged. Tests `note` the inputs, which hypothesis shows with a failing example."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
import re
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, Union

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from dockermem.docker import parse
from dockermem.docker.parse import (
    CONFIG_FILES_LABEL,
    NETWORK_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    SIZE_UNITS,
    VOLUME_LABEL,
    WORKING_DIR_LABEL,
)
from tests.conftest import FIXTURES

T = TypeVar("T")

# 10,000 examples of every parser, as `make test` runs them (the clock guard, which reruns the
# tests with the clock moved, sets fewer: DOCKERMEM_TEST_EXAMPLES).
EXAMPLES = int(os.environ.get("DOCKERMEM_TEST_EXAMPLES", "10000"))
BAD_INPUT = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
# The invariants beside them: fewer examples, each of which parses whole outputs twice.
INVARIANT = settings(BAD_INPUT, max_examples=max(1, EXAMPLES // 5))

# Characters that break parsers: JSON syntax, terminal escapes, line breaks that str.splitlines()
# knows but JSON lines do not (NEL, LS, FF, VT), a BOM, NUL, and digits that str.isdigit()
# accepts while int() refuses them (superscripts) or reads them (Arabic-Indic, mathematical).
ODD_CHARACTERS = tuple('"\\{}[]:,/%-+.eE 019\n\r\t\x00\x1b\x0b\x0c\x1c\x85\u2028\ufeff²³٣𝟗ⅫéZTiBkKMG')
JUNK = (
    '"',
    "}",
    "]",
    '{"',
    "[",
    ",",
    ":",
    "null",
    "true",
    "-1",
    "--",
    "-- / --",
    "%",
    " / ",
    "MiB",
    "1e999",
    "NaN",
    "-Infinity",
    "\x1b[H",
    "\x1b[J",
    " \x1b[K",
    "\x1b[2;5H",
    "\n",
    "\r\n",
    "\x85",
    "\u2028",
    "²",
    "٣",
    "\\u0000",
    "\\ud800",
    '"\\',
    "\ufeff",
    "9" * 25,
    "9" * 5000,  # more digits than int() converts (sys.get_int_max_str_digits())
    "[" * 60,
    '{"a":' * 40,
    "2026-11-26 23:46:23 +0000 UTC",
    "0001-01-01T00:00:00Z",
)
# JSON values that stand in for a value of another type. json.dumps writes NaN and Infinity
# and json.loads reads them back (docker's Go encoder never would).
ODD_JSON_VALUES: tuple[object, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1,
    137,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    2**64,
    10**30,
    10**4000,  # within json's digit limit, beyond what a float or a timestamp holds
    0.5,
    -0.0,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    "",
    " ",
    "x",
    "--",
    "-- / --",
    "0B / 0B",
    "1.5GiB / -1B",
    "12.5%",
    "-3%",
    "²",
    "--5",
    "1e999",
    "9" * 5000,
    "\x1b[H",
    "2026-11-26 23:46:23 +0000 UTC",
    "0001-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    [],
    [None],
    [{}],
    {},
    {"": None},
    {"Status": 1},
)


class Choices:
    """Decisions read from hypothesis's bytes; 0 once they run out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def below(self, bound: int) -> int:
        """A number in range(bound): one byte for small ranges, more for larger ones."""
        if bound <= 1:
            return 0
        width = (bound.bit_length() + 7) // 8
        chunk = self.data[self.position : self.position + width]
        self.position += width
        return int.from_bytes(chunk.ljust(width, b"\0"), "big") % bound

    @property
    def exhausted(self) -> bool:
        return self.position >= len(self.data)

    def pick(self, options: Sequence[T]) -> T:
        return options[self.below(len(options))]


BYTES_PER_INPUT = 64
Build = Callable[[Choices], T]


def built(build: Build[T]) -> st.SearchStrategy[T]:
    """What `build` makes of one draw."""
    return together(build).map(lambda inputs: inputs[0])


def together(*builds: Build[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    """One input from each of `builds`, all from one draw of bytes. (Fixed-size bytes: hypothesis
    makes most byte strings of a variable size short, and most bytes of a large integer 0.)"""
    size = BYTES_PER_INPUT * len(builds)

    def build_all(data: bytes) -> tuple[Any, ...]:
        return tuple(build(Choices(data[index :: len(builds)])) for index, build in enumerate(builds))

    return st.binary(min_size=size, max_size=size).map(build_all)


def character(choices: Choices) -> str:
    kind = choices.below(4)
    if kind <= 1:
        return choices.pick(ODD_CHARACTERS)
    if kind == 2:
        return chr(32 + choices.below(95))
    code = choices.below(0x110000)
    return "\ufffd" if 0xD800 <= code < 0xE000 else chr(code)  # no lone surrogates: docker's
    # output reaches the parsers decoded with errors="replace" (dockermem/docker/runner.py)


def characters(choices: Choices, most: int) -> str:
    return "".join(character(choices) for _ in range(choices.below(most + 1)) if not choices.exhausted)


def junk(choices: Choices) -> str:
    return choices.pick(JUNK) if choices.below(3) else characters(choices, 8)


def random_json(choices: Choices, depth: int = 0) -> object:
    kind = choices.below(10)
    if kind == 0:
        return None
    if kind == 1:
        return bool(choices.below(2))
    if kind == 2:
        return choices.below(2**32) - 2**31
    if kind == 3:
        return (choices.below(2**24) - 2**23) / (1 + choices.below(1000))
    if kind == 4:
        return characters(choices, 12)
    if kind == 5 and depth < 3:
        return [random_json(choices, depth + 1) for _ in range(choices.below(4))]
    if kind == 6 and depth < 3:
        return {characters(choices, 6): random_json(choices, depth + 1) for _ in range(choices.below(4))}
    return choices.pick(ODD_JSON_VALUES)


def random_text(choices: Choices) -> str:
    """Text that is no docker output: any characters, or JSON documents of no docker shape."""
    kind = choices.below(3)
    if kind == 0:
        return characters(choices, 80)
    if kind == 1:
        return json.dumps(random_json(choices))
    return "\n".join(json.dumps(random_json(choices)) for _ in range(choices.below(4)))


OPERATIONS = ("flip", "byte", "truncate", "delete", "insert", "duplicate")


def mutate(choices: Choices, text: str, count: int) -> str:
    """`text` after `count` text mutations."""
    for _ in range(count):
        if choices.exhausted:
            break
        operation = choices.pick(OPERATIONS)
        start = choices.below(len(text) + 1)
        if operation == "flip":
            text = text[:start] + character(choices) + text[start + 1 :]
        elif operation == "byte":
            data = bytearray(text.encode())
            if data:
                data[min(start, len(data) - 1)] ^= 1 << choices.below(8)
            # The runner decodes docker's bytes with errors="replace" (dockermem/docker/runner.py).
            text = data.decode("utf-8", errors="replace")
        elif operation == "truncate":
            text = text[:start]
        elif operation == "delete":
            end = start + choices.below(80)
            text = text[:start] + text[end:]
        elif operation == "insert":
            text = text[:start] + junk(choices) + text[start:]
        else:
            end = start + choices.below(200)
            text = text[:end] + text[start:end] + text[end:]
    return text


JsonPath = tuple[str | int, ...]
# The keys parse.py reads (its string literals, and the compose labels): half the JSON
# mutations go to their values, the other half anywhere.
READ_KEYS = frozenset(re.findall(r'"([A-Za-z][A-Za-z_.]*)"', inspect.getsource(parse))) | {
    PROJECT_LABEL,
    SERVICE_LABEL,
    WORKING_DIR_LABEL,
    CONFIG_FILES_LABEL,
    NETWORK_LABEL,
    VOLUME_LABEL,
}


@dataclass(frozen=True)
class JsonSeed:
    """A recorded output as JSON: one document a line (JSON lines) or a single document."""

    documents: tuple[object, ...]
    lines: bool
    paths: tuple[tuple[int, JsonPath], ...]  # (document, path) of every value, containers too
    read: tuple[tuple[int, JsonPath], ...]  # those under a key the parsers read


def json_documents(text: str) -> tuple[list[object], bool]:
    """The documents of a recorded JSON output, and whether it is JSON lines."""
    try:
        return [json.loads(text)], False
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()], True


def json_seed(text: str) -> JsonSeed:
    listed, lines = json_documents(text)
    documents = tuple(listed)
    paths = tuple((index, path) for index, document in enumerate(documents) for path in _paths(document, ()))
    read = tuple((index, path) for index, path in paths if path and path[-1] in READ_KEYS)
    return JsonSeed(documents, lines, paths, read or paths)


def _paths(value: object, prefix: JsonPath) -> Iterator[JsonPath]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


_DROP = object()


def _replaced(value: object, path: JsonPath, new: object) -> object:
    """`value` with the value at `path` replaced by `new` (or removed, for _DROP); copies only
    the containers along the path. A path that no longer exists changes nothing."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and head in value:
        result = dict(value)
        if new is _DROP and not rest:
            del result[head]
        else:
            result[head] = _replaced(value[head], rest, new)
        return result
    if isinstance(value, list) and isinstance(head, int) and head < len(value):
        items = list(value)
        if new is _DROP and not rest:
            del items[head]
        else:
            items[head] = _replaced(value[head], rest, new)
        return items
    return value


def _value_at(value: object, path: JsonPath) -> object:
    for key in path:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            return None
    return value


def _retyped(choices: Choices, value: object) -> object:
    """The same value as another JSON type: what a changed docker format might print."""
    text = value if isinstance(value, str) else json.dumps(value)
    kind = choices.below(5)
    if kind == 0:
        return text
    if kind == 1:
        return [value]
    if kind == 2:
        return {"value": value}
    if kind == 3 and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return len(value)
    return None


def mutated_json(choices: Choices, seed: JsonSeed) -> str:
    """A seed with values replaced by other values, retyped or dropped (whole documents too),
    written back as docker writes it."""
    documents = list(seed.documents)
    for _ in range(1 + choices.below(3)):
        index, path = choices.pick(seed.read if choices.below(2) else seed.paths)
        if index >= len(documents):
            continue
        operation = choices.below(4)
        if operation == 2 and not path:
            del documents[index]
            continue
        if operation == 3:  # a key docker prints elsewhere, added where it does not belong
            target = _value_at(documents[index], path)
            if isinstance(target, dict):
                key = choices.pick(KNOWN_KEYS)
                value = characters(choices, 12) if choices.below(2) else random_json(choices)
                documents[index] = _replaced(documents[index], path, {**target, key: value})
            continue
        if operation == 2:
            new: object = _DROP
        elif operation == 1:
            new = _retyped(choices, _value_at(documents[index], path))
        else:
            new = random_json(choices)
        documents[index] = _replaced(documents[index], path, new)
    ascii_only = bool(choices.below(2))
    if seed.lines:
        return "".join(json.dumps(document, ensure_ascii=ascii_only) + "\n" for document in documents)
    return json.dumps(documents[0] if documents else [], indent=4, ensure_ascii=ascii_only)


def _keys(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield key
            yield from _keys(child)
    elif isinstance(value, list):
        for child in value:
            yield from _keys(child)


# Every key of every recorded JSON output, and the compose labels the parsers look for.
KNOWN_KEYS = tuple(
    sorted(
        {
            key
            for path in (*FIXTURES.rglob("*.json"), *FIXTURES.rglob("*.jsonl"))
            for document in json_documents(path.read_text())[0]
            for key in _keys(document)
        }
        | {PROJECT_LABEL, SERVICE_LABEL, WORKING_DIR_LABEL, CONFIG_FILES_LABEL, NETWORK_LABEL, VOLUME_LABEL}
    )
)


@dataclass(frozen=True)
class Corpus:
    """Recorded outputs of one docker command, as text and (when JSON) as documents."""

    texts: tuple[str, ...]
    seeds: tuple[JsonSeed, ...]

    def build(self, choices: Choices) -> str:
        mode = choices.below(8)
        if mode == 7:
            return random_text(choices)
        if mode >= 4 and self.seeds:
            text = mutated_json(choices, choices.pick(self.seeds))
            return mutate(choices, text, choices.below(2))
        return mutate(choices, choices.pick(self.texts), choices.below(5))


def docker_output(texts: Sequence[str], *, json_texts: Sequence[str] = ()) -> Build[str]:
    """Bad (and now and then good) output of one docker command: random text, the recorded
    outputs mutated as text, and (for JSON outputs) mutated as JSON."""
    assert texts
    return Corpus(tuple(texts), tuple(json_seed(text) for text in json_texts)).build


def fixture_texts(folder: str, pattern: str = "*") -> list[str]:
    files = sorted((FIXTURES / folder).glob(pattern))
    assert files, f"no fixtures in {folder}/{pattern}"
    return [path.read_text() for path in files]


def nonblank_lines(texts: Sequence[str]) -> list[str]:
    return [line for text in texts for line in text.splitlines() if line.strip()]


UNIT_FORMS = tuple(sorted({form for unit in SIZE_UNITS for form in (unit, unit.upper(), unit.title())}))


def size_text(choices: Choices) -> str:
    """A size as docker and compose print them (`1.355MiB`, `796 KiB`, `512m`), or a near miss."""
    kind = choices.below(5)
    if kind == 0:
        number = str(choices.below(10 ** (1 + choices.below(25))))
    elif kind == 1:
        number = f"{choices.below(10**6)}.{choices.below(10**4)}"
    elif kind == 2:
        number = repr(random_json(choices))
    elif kind == 3:
        number = "".join(choices.pick("0123456789.²٣-+e_ ") for _ in range(choices.below(12)))
    else:
        number = f"{choices.below(2**64)}"
    unit = choices.pick(UNIT_FORMS) if choices.below(4) else characters(choices, 3)
    return "".join((choices.pick(("", "", " ", "-", "\t")), number, choices.pick(("", " ")), unit))


def _two_digits(choices: Choices) -> str:
    return f"{choices.below(101) - 1:02d}"


def docker_time_text(choices: Choices) -> str:
    """A time as `docker ps`/`network ls` (`2026-11-26 23:46:23.1 +0000 UTC`) or RFC 3339
    print it, with fields in and out of range."""
    year = choices.pick((2026, 1, 0, 9999, 10000, 1970)) if choices.below(2) else choices.below(10002)
    fields = [_two_digits(choices) for _ in range(5)]
    fraction = (
        choices.pick(("", ".", ".5", ".565790694", ".1234567890123"))
        if choices.below(3)
        else ("." + "".join(choices.pick("0123456789²") for _ in range(choices.below(14))))
    )
    separator = choices.pick((" ", "T", "t", "  "))
    zone_options = ("", "Z", "z", " +0000 UTC", " -0130 CET", " +9999", "+00:00", "-23:59", "+24:00", " UTC")
    zone = choices.pick(zone_options) if choices.below(4) else characters(choices, 8)
    month, day, hour, minute, second = fields
    return f"{year:04d}-{month}-{day}{separator}{hour}:{minute}:{second}{fraction}{zone}"


FieldTypes = tuple[tuple[str, tuple[type, ...], tuple[type, ...]], ...]


@functools.cache
def _field_types(model: type) -> FieldTypes:
    """Per field of a model: the classes its value may be of, and for `tuple[X, ...]` those of X."""
    hints = typing.get_type_hints(model)
    fields = []
    for field in dataclasses.fields(model):
        hint = hints[field.name]
        items = _classes(typing.get_args(hint)[0]) if typing.get_origin(hint) is tuple else ()
        fields.append((field.name, _classes(hint), items))
    return tuple(fields)


def _classes(hint: object) -> tuple[type, ...]:
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return tuple(cls for arg in typing.get_args(hint) for cls in _classes(arg))
    if hint is None:
        return (type(None),)
    if origin is tuple:
        return (tuple,)
    assert isinstance(hint, type), f"annotation {hint!r} not handled"
    return (hint,)


def check_model(value: object) -> None:
    """Every field of a parsed model holds the type its annotation documents (a bool passes
    for an int, as it does for mypy)."""
    assert dataclasses.is_dataclass(value) and not isinstance(value, type)
    for name, classes, items in _field_types(type(value)):
        held = getattr(value, name)
        assert isinstance(held, classes), f"{type(value).__name__}.{name} = {held!r}"
        if items:
            assert isinstance(held, tuple)
            for item in held:
                assert isinstance(item, items), f"{type(value).__name__}.{name} holds {item!r}"
                if dataclasses.is_dataclass(item):
                    check_model(item)
