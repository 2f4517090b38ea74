"""The fast path's reader on cgroup trees: v1 recorded here, v2 from the kernel's documented
formats (tests/fixtures/cgroup/README.md)."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dockermem.core.engine_cache import (
    LOCAL_ENGINE_TTL_SECONDS,
    EngineKey,
    read_cached_layouts,
    write_cached_engine_info,
    write_cached_layouts,
)
from dockermem.core.readings import cgroup_stats
from dockermem.docker.cgroup import CgroupLayout, CgroupReader, CgroupReading
from dockermem.docker.models import EngineInfo
from tests.builders import summary
from tests.conftest import FIXTURES

MIB = 1024**2


def reader_for(tree: str) -> tuple[CgroupReader, str, int]:
    base = FIXTURES / "cgroup" / tree
    container_id, pid = (base / "CONTAINER").read_text().split()
    return CgroupReader(base / "proc", base / "sys" / "fs" / "cgroup"), container_id, int(pid)


def test_v1_cgroupfs_recorded_tree() -> None:
    reader, container_id, pid = reader_for("v1-cgroupfs")
    location = reader.locate(container_id, pid)
    assert location is not None and location.version == 1
    reading = reader.read(location)
    assert reading is not None
    assert reading.memory_limit_bytes == 256 * MIB
    assert reading.memory_usage_bytes == 63631360  # usage_in_bytes less total_inactive_file (0)
    assert abs(reading.memory_usage_bytes - 60.45 * MIB) < 1 * MIB  # what docker stats showed
    assert reading.oom_kills == 0
    assert reading.cpu_usage_ns is not None and reading.cpu_usage_ns > 0


@pytest.mark.parametrize(
    ("tree", "usage", "limit", "oom_kills", "cpu_ns"),
    [
        ("v2-systemd", 109051904 - 4194304, 256 * MIB, 2, 2_500_000_000),
        ("v2-cgroupfs", 109051904 - 4194304, None, 0, 100_000),
        ("v2-rootless", 52428800 - 1048576, 128 * MIB, 0, 42_000),
        ("v2-podman-systemd", 73400320 - 2097152, 128 * MIB, 1, 730_000_000),
    ],
)
def test_v2_trees(tree: str, usage: int, limit: int | None, oom_kills: int, cpu_ns: int) -> None:
    reader, container_id, pid = reader_for(tree)
    location = reader.locate(container_id, pid)
    assert location is not None and location.version == 2
    reading = reader.read(location)
    assert reading is not None
    assert (reading.memory_usage_bytes, reading.memory_limit_bytes) == (usage, limit)
    assert (reading.oom_kills, reading.cpu_usage_ns) == (oom_kills, cpu_ns)


def test_podmans_leaf_below_the_scope_is_read_at_the_scope() -> None:
    # crun puts the processes in `libpod-<id>.scope/container`, with no limit of its own.
    reader, container_id, pid = reader_for("v2-podman-systemd")
    location = reader.locate(container_id, pid)
    assert location is not None and location.memory_dir.name == f"libpod-{container_id}.scope"
    assert not any(layout.memory.endswith("/container") for layout in reader.layouts)


def test_a_pid_that_is_not_the_containers_is_not_read() -> None:
    reader, container_id, pid = reader_for("foreign-pid")
    assert reader.locate(container_id, pid) is None


def test_nothing_is_read_from_an_empty_directory(tmp_path: Path) -> None:
    reader = CgroupReader(tmp_path / "proc", tmp_path / "cgroup")
    assert reader.locate("a" * 64, 1234) is None
    assert reader.locate("a" * 64, 0) is None


def test_a_cgroup_that_vanished_reads_as_none(tmp_path: Path) -> None:
    reader, container_id, pid = reader_for("v2-systemd")
    location = reader.locate(container_id, pid)
    assert location is not None
    gone = type(location)(location.container_id, 2, tmp_path / "gone", tmp_path / "gone")
    assert reader.read(gone) is None


@pytest.mark.parametrize(
    ("tree", "guessed"),
    [("v1-cgroupfs", True), ("v2-systemd", True), ("v2-rootless", False), ("v2-podman-systemd", True)],
)
def test_usual_paths_are_guessed_and_the_rest_found_through_the_init_process(
    tree: str, guessed: bool
) -> None:
    reader, container_id, pid = reader_for(tree)
    guess = reader.guess(container_id)
    assert (guess is not None) == guessed
    located = reader.locate(container_id, pid)
    assert located is not None
    if guess is not None:
        assert guess.memory_dir == located.memory_dir


@pytest.mark.parametrize(
    ("tree", "listed"),
    [("v1-cgroupfs", True), ("v2-systemd", True), ("v2-cgroupfs", True), ("v2-rootless", False)],
)
def test_containers_in_the_usual_places_are_listed_without_docker(tree: str, listed: bool) -> None:
    reader, container_id, _ = reader_for(tree)
    assert reader.guessed_locations() == ([reader.guess(container_id)] if listed else [])
    assert CgroupReader(Path("/nonexistent"), Path("/nonexistent")).guessed_locations() == []


def test_memory_stat_is_read_again_only_when_the_charge_moves(tmp_path: Path) -> None:
    """Between full reads, a reading given the previous one reuses its inactive file figure
    while the charge holds still, and reads memory.stat afresh once the charge moves."""
    source, container_id, pid = reader_for("v2-systemd")
    shutil.copytree(source.cgroup_root, tmp_path / "cgroup")
    reader = CgroupReader(source.proc_root, tmp_path / "cgroup")
    location = reader.locate(container_id, pid)
    assert location is not None
    first = reader.read(location)
    assert first is not None and first.inactive_file_bytes == 4194304
    stat = Path(location.files.stat)
    stat.write_text(stat.read_text().replace("inactive_file 4194304", "inactive_file 8388608"))
    still = reader.read(location, first)
    assert still is not None and still.memory_usage_bytes == first.memory_usage_bytes  # stat not read
    Path(location.files.usage).write_text(str(first.charged_bytes + MIB) + "\n")
    moved = reader.read(location, still)
    assert moved is not None and moved.inactive_file_bytes == 8388608
    assert moved.memory_usage_bytes == first.charged_bytes + MIB - 8388608
    full = reader.read(location)  # a full read always reads memory.stat
    assert full is not None and full.inactive_file_bytes == 8388608


def test_a_watch_raises_its_soft_open_file_limit_toward_the_hard_one() -> None:
    """At the usual soft limit of 1024, the files of only some hundred containers could be
    kept open; the reader raises the soft limit (up to 8192, never past the hard one)."""
    script = (
        "import resource\n"
        "_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))\n"
        "from dockermem.docker.cgroup import OpenCgroupFiles\n"
        "files = OpenCgroupFiles()\n"
        "print(files.max_open, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    max_open, soft, hard = (int(part) for part in result.stdout.split())
    assert soft == (8192 if hard == resource.RLIM_INFINITY else min(8192, hard))
    assert max_open == soft // 2


def tree_under_parent(tmp_path: Path, parent: str, other_id: str) -> tuple[CgroupReader, str, int]:
    """The recorded v1 tree moved under a cgroup parent of a daemon's own (`--cgroup-parent`),
    with a second container beside the first."""
    base = FIXTURES / "cgroup" / "v1-cgroupfs"
    container_id, pid = (base / "CONTAINER").read_text().split()
    root = tmp_path / "sys" / "fs" / "cgroup"
    for controller in ("memory", "cpuacct"):
        for cid in (container_id, other_id):
            shutil.copytree(
                base / "sys/fs/cgroup" / controller / "docker" / container_id,
                root / controller / parent / cid,
            )
    proc = tmp_path / "proc" / pid
    proc.mkdir(parents=True)
    proc.joinpath("cgroup").write_text(
        (base / "proc" / pid / "cgroup").read_text().replace("/docker/", f"/{parent}/")
    )
    return CgroupReader(tmp_path / "proc", root), container_id, int(pid)


def test_a_daemon_own_parent_is_learnt_from_one_container_and_its_neighbours_guessed(tmp_path: Path) -> None:
    other = "b" * 64
    reader, container_id, pid = tree_under_parent(tmp_path, "docker26", other)
    assert reader.guess(container_id) is None and reader.guess(other) is None  # no common layout holds them
    assert reader.locate(container_id, pid) is not None
    assert [(layout.memory, layout.cpu) for layout in reader.learned] == [
        ("memory/docker26/{id}", "cpuacct/docker26/{id}")
    ]
    neighbour = reader.guess(other)
    assert neighbour is not None and neighbour.memory_dir.name == other
    assert reader.read(neighbour) is not None
    assert {location.container_id for location in reader.guessed_locations()} == {container_id, other}


def test_a_learnt_layout_is_kept_for_the_next_reader(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key = EngineKey("default", "unix:///var/run/docker26.sock", (1, 2))
    engine = EngineInfo("e", "26.1.5", "Debian", 8 * 1024**3, 2, "1", "cgroupfs")
    layout = CgroupLayout(1, "memory/docker26/{id}", "cpuacct/docker26/{id}")
    write_cached_layouts(state, key, [layout], 60, 1000.0)  # no entry for the engine yet: nothing kept
    assert read_cached_layouts(state, key, 60, 1001.0) == []
    write_cached_engine_info(state, key, engine, 1000.0, 60)
    write_cached_layouts(state, key, [layout], 60, 1000.0)
    assert read_cached_layouts(state, key, 60, 1001.0) == [layout]
    write_cached_engine_info(state, key, engine, 1010.0, 60)  # the info asked again: the layout stays
    assert read_cached_layouts(state, key, 60, 1011.0) == [layout]
    # A local socket's entry (the key holds its identity) lasts an hour, its layouts with it.
    assert read_cached_layouts(state, key, 60, 1010.0 + LOCAL_ENGINE_TTL_SECONDS - 1) == [layout]
    assert read_cached_layouts(state, key, 60, 1010.0 + LOCAL_ENGINE_TTL_SECONDS) == []


@pytest.mark.parametrize(
    ("start_ns", "now_ns", "expected"), [(1_000_000_000, 1_500_000_000, 50.0), (900_000_000, 4_000_000, None)]
)
def test_cpu_percent_over_a_window_in_which_the_container_restarted_is_not_measured(
    start_ns: int, now_ns: int, expected: float | None
) -> None:
    """A restart gives the container a new cgroup whose CPU time starts at 0 again: the window
    measures nothing (seen as -2.14 % in a watch before)."""
    reading = CgroupReading("c1", 1024, None, cpu_usage_ns=now_ns, oom_kills=0)
    stats = cgroup_stats(summary("api", "api"), reading, (start_ns, 10.0), now=11.0)
    assert stats.cpu_percent == expected
