"""What the parsers must agree on, whatever the values: exact sizes for whole numbers in every
unit, the same containers whatever the order of `docker stats` lines, JSON lines and a JSON
array read alike, times and percentages read back as they were written."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockermem.docker.parse import (
    SIZE_UNITS,
    iter_json_objects,
    parse_compose_ps,
    parse_docker_time,
    parse_percent,
    parse_size,
)
from dockermem.errors import ParseError
from tests.property.mutations import INVARIANT, UNIT_FORMS, fixture_texts, json_documents
from tests.recorded import stats_lines

STATS = fixture_texts("stats")
COMPOSE_PS_DOCUMENTS = [
    document for text in fixture_texts("compose-ps", "*.jsonl") for document in json_documents(text)[0]
]


@st.composite
def whole_sizes(draw: st.DrawFn) -> tuple[int, str]:
    """A unit as docker or compose writes it, and a whole number: mostly one whose size in
    bytes fits in 63 bits, now and then one whose size does not."""
    unit = draw(st.sampled_from(UNIT_FORMS))
    most = (2**63 - 1) // SIZE_UNITS[unit.lower()]
    return draw(st.integers(0, most) | st.integers(most + 1, 2**64)), unit


@INVARIANT
@given(size=whole_sizes(), space=st.booleans())
def test_a_whole_number_of_any_unit_is_exact(size: tuple[int, str], space: bool) -> None:
    number, unit = size
    text = f"{number}{' ' if space else ''}{unit}"
    expected = number * SIZE_UNITS[unit.lower()]
    if expected < 2**63:
        assert parse_size(text) == expected
    else:
        with pytest.raises(ParseError):
            parse_size(text)


@INVARIANT
@given(data=st.data())
def test_shuffled_stats_lines_give_the_same_containers(data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(STATS), label="fixture")
    lines = text.splitlines()
    shuffled = data.draw(st.permutations(lines), label="lines")
    original = stats_lines(text)
    reordered = stats_lines("\n".join(shuffled))
    assert {(stats.id, stats.name) for stats in reordered} == {(stats.id, stats.name) for stats in original}
    assert Counter(reordered) == Counter(original)


@INVARIANT
@given(documents=st.lists(st.sampled_from(COMPOSE_PS_DOCUMENTS), max_size=8))
def test_json_lines_and_a_json_array_read_alike(documents: list[object]) -> None:
    lines = "".join(json.dumps(document) + "\n" for document in documents)
    array = json.dumps(documents, indent=2)
    assert list(iter_json_objects("x", lines)) == list(iter_json_objects("x", array)) == documents
    assert parse_compose_ps(lines) == parse_compose_ps(array)


offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda minutes: timezone(timedelta(minutes=minutes)))


@INVARIANT
@given(
    moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets),
    nanoseconds=st.integers(0, 999),
)
def test_times_read_back_as_docker_writes_them(moment: datetime, nanoseconds: int) -> None:
    offset = moment.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    zone = f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    fraction = f".{moment.microsecond:06d}{nanoseconds:03d}"
    # `docker ps`, `network ls`: `2026-11-26 23:46:23.565790694 +0000 UTC`
    assert parse_docker_time(f"{_day(moment)} {moment:%H:%M:%S}{fraction} {zone} UTC") == moment
    # `docker inspect`: RFC 3339 with nanoseconds
    rfc3339 = f"{_day(moment)}T{moment:%H:%M:%S}{fraction}{zone[:3]}:{zone[3:]}"
    assert parse_docker_time(rfc3339) == moment
    utc = moment.astimezone(UTC)
    assert parse_docker_time(f"{_day(utc)}T{utc:%H:%M:%S}{fraction}Z") == moment


def _day(moment: datetime) -> str:
    """The date as Go writes it: four-digit years (strftime's %Y writes `999` for 999)."""
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


@INVARIANT
@given(value=st.floats(min_value=0, allow_infinity=False), digits=st.integers(0, 4))
def test_percentages_read_back(value: float, digits: int) -> None:
    assert parse_percent(f"{value!r}%") == value
    assert parse_percent(f"{value:.{digits}f}%") == float(f"{value:.{digits}f}")
