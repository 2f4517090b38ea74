"""The fast path's cgroup reader on mutated file trees (tests/fixtures/cgroup/): files with
their text or bytes mutated, emptied, removed, or turned into directories. The reader answers
None where it cannot read, and raises nothing. Two cases the mutations leave out (a cgroup path
that is not UTF-8, a name too long for the file system) have tests of their own at the end."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, note

from dockermem.docker.cgroup import CgroupLocation, CgroupReader
from tests.conftest import FIXTURES
from tests.property.mutations import BAD_INPUT, Choices, built, check_model, mutate

TREES = ("v1-cgroupfs", "v2-systemd", "v2-cgroupfs", "v2-rootless", "foreign-pid")
# What a cgroup file might hold instead of its number: limits and counters out of range, the
# kernel's words, a superscript digit (str.isdigit() takes it, int() does not), bad UTF-8.
ODD_CONTENTS = (
    b"",
    b"\n",
    b"max\n",
    b"max max\n",
    b"-1\n",
    b"-9223372036854775808\n",
    b"9223372036854771712\n",
    b"18446744073709551615\n",
    b"9" * 5000 + b"\n",
    b"\xc2\xb2\n",
    b"0x10\n",
    b"1e9\n",
    b"\xff\xfe\n",
    b"\x00",
    b"usage_usec \xc2\xb2\noom_kill -5\ninactive_file 99999999999999999999\n",
    b"oom_kill 1 2\ninactive_file\n total_inactive_file -1\n",
)
OTHER_ID = "f" * 64
LONG_NAME = re.compile(r"[^/\n]{61,}")  # 61 characters may be more than NAME_MAX (255) bytes


def _files(name: str) -> tuple[tuple[str, bytes], ...]:
    base = FIXTURES / "cgroup" / name
    return tuple(
        (str(path.relative_to(base)), path.read_bytes())
        for top in ("proc", "sys")
        for path in sorted((base / top).rglob("*"))
        if path.is_file()
    )


ORIGINALS = {name: _files(name) for name in TREES}


def _is_proc_cgroup(relative: str) -> bool:
    return relative.startswith("proc/") and relative.endswith("/cgroup")


@dataclass(frozen=True)
class Tree:
    """A writable copy of one fixture tree."""

    root: Path
    container_id: str
    pid: int

    def reader(self) -> CgroupReader:
        return CgroupReader(self.root / "proc", self.root / "sys" / "fs" / "cgroup")

    def restore(self, name: str, relatives: set[str]) -> None:
        for relative, content in ORIGINALS[name]:
            if relative in relatives:
                path = self.root / relative
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                path.write_bytes(content)


@pytest.fixture(scope="module")
def trees() -> Iterator[dict[str, Tree]]:
    """The trees copied to memory (/dev/shm) where there is one: 10,000 examples write files."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None) as base:
        copies = {}
        for name in TREES:
            root = Path(base) / name
            shutil.copytree(FIXTURES / "cgroup" / name, root)
            container_id, pid = (root / "CONTAINER").read_text().split()
            copies[name] = Tree(root, container_id, int(pid))
        yield copies


@dataclass(frozen=True)
class Damage:
    """Which tree, what happens to which of its files, and whom the reader is asked about."""

    tree: str
    changes: tuple[tuple[str, bytes | None], ...]  # (file, new content); None: a directory instead
    removed: tuple[str, ...]
    ask_other_id: bool
    pid_change: int


def damage(choices: Choices) -> Damage:
    tree = choices.pick(TREES)
    changes: dict[str, bytes | None] = {}
    removed: set[str] = set()
    for _ in range(1 + choices.below(4)):
        relative, original = choices.pick(ORIGINALS[tree])
        kind = choices.below(8)
        if kind == 0:
            removed.add(relative)
        elif kind == 1:
            changes[relative] = None
        elif kind <= 3:
            changes[relative] = choices.pick(ODD_CONTENTS)
        else:  # the file's own text mutated (bytes flipped, cut, junk inserted...)
            changes[relative] = mutate(choices, original.decode(), 1 + choices.below(4)).encode()
        content = changes.get(relative)
        if _is_proc_cgroup(relative) and content:
            # /proc/<pid>/cgroup stays UTF-8, with names the file system takes: the two tests
            # below try the other cases.
            text = LONG_NAME.sub(lambda match: match.group()[:60], content.decode(errors="replace"))
            changes[relative] = text.encode()
    return Damage(
        tree,
        tuple(sorted(changes.items())),
        tuple(sorted(removed)),
        choices.below(8) == 0,
        choices.pick((0, 0, 0, 1, -1, -(10**6))),
    )


def apply(tree: Tree, plan: Damage) -> None:
    for relative, content in plan.changes:
        path = tree.root / relative
        if content is None:
            path.unlink(missing_ok=True)
            path.mkdir(exist_ok=True)
        else:
            path.write_bytes(content)
    for relative in plan.removed:
        path = tree.root / relative
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)


def check_location(location: CgroupLocation | None) -> None:
    if location is not None:
        assert isinstance(location, CgroupLocation)
        assert location.version in (1, 2)


@BAD_INPUT
@given(plan=built(damage))
def test_the_reader_answers_none_or_a_reading_on_damaged_trees(trees: dict[str, Tree], plan: Damage) -> None:
    note(plan)
    tree = trees[plan.tree]
    try:
        apply(tree, plan)
        reader = tree.reader()
        container_id = OTHER_ID if plan.ask_other_id else tree.container_id
        guessed = reader.guess(container_id)
        located = reader.locate(container_id, tree.pid + plan.pid_change)
        for location in (guessed, located):
            check_location(location)
            if location is not None:
                reading = reader.read(location)
                if reading is not None:
                    check_model(reading)
                cpu = reader.read_cpu_ns(location)
                assert cpu is None or type(cpu) is int
    finally:
        tree.restore(plan.tree, {relative for relative, _ in plan.changes} | set(plan.removed))


def test_the_recorded_trees_are_restored_after_each_example(trees: dict[str, Tree]) -> None:
    for name, tree in trees.items():
        for relative, content in ORIGINALS[name]:
            assert (tree.root / relative).read_bytes() == content, relative


def test_a_cgroup_path_that_is_not_utf8_is_not_read(trees: dict[str, Tree]) -> None:
    tree = trees["v2-systemd"]
    relative, content = next(file for file in ORIGINALS["v2-systemd"] if _is_proc_cgroup(file[0]))
    try:
        (tree.root / relative).write_bytes(content.replace(b"0::/", b"0::/\xff"))
        assert tree.reader().locate(tree.container_id, tree.pid) is None
    finally:
        tree.restore("v2-systemd", {relative})


def test_a_cgroup_path_too_long_for_the_file_system_is_not_read(trees: dict[str, Tree]) -> None:
    tree = trees["v2-systemd"]
    relative, content = next(file for file in ORIGINALS["v2-systemd"] if _is_proc_cgroup(file[0]))
    try:
        (tree.root / relative).write_bytes(content.replace(b"0::/", b"0::/" + b"x" * 300 + b"/"))
        assert tree.reader().locate(tree.container_id, tree.pid) is None
    finally:
        tree.restore("v2-systemd", {relative})
