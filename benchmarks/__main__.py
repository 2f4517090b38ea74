"""`make bench`: ratios measured side by side in one run, written to docs/benchmarks.md.

Each row times dockermem and the tool a user would otherwise run, alternating runs so that
both see the same machine, and reports the medians, their ratio and the goal.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
DOCKERMEM = [sys.executable, "-m", "dockermem"]
BENCH_LABEL = "dockermem.bench"
ROUNDS = int(os.environ.get("DOCKERMEM_BENCH_ROUNDS", "5"))


@dataclass(frozen=True)
class Row:
    what: str
    ours: float
    theirs: float | None
    unit: str
    goal: str
    baseline: str

    @property
    def ratio(self) -> float | None:
        return None if self.theirs in (None, 0) else self.ours / self.theirs  # type: ignore[operator]


def run(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - started


def alternate(
    ours: Callable[[], float], theirs: Callable[[], float], rounds: int = ROUNDS
) -> tuple[float, float]:
    """Medians of alternating runs of both commands."""
    mine, other = [], []
    for _ in range(rounds):
        mine.append(ours())
        other.append(theirs())
    return statistics.median(mine), statistics.median(other)


def start_containers(count: int, run_id: str) -> list[str]:
    ids = []
    for index in range(count):
        result = subprocess.run(
            ["docker", "run", "-d", "--network", "none", "--memory", "32m",
             "--label", f"{BENCH_LABEL}={run_id}", "--name", f"dmbench-{run_id}-{index}",
             "dockermem/memhog:test", "memhog", "1"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        ids.append(result.stdout.strip())
    return ids


def remove_containers(run_id: str) -> None:
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={BENCH_LABEL}={run_id}"], capture_output=True, text=True
    ).stdout.split()
    for start in range(0, len(ids), 50):
        subprocess.run(["docker", "rm", "-f", *ids[start : start + 50]], capture_output=True)


def cgroup_floor(ids: list[str]) -> float:
    """Reading the cgroup files of the containers alone (PIDs known): the floor of a snapshot."""
    from dockermem.docker.cgroup import CgroupReader

    reader = CgroupReader()
    pids = subprocess.run(
        ["docker", "inspect", "--format", "{{.Id}} {{.State.Pid}}", *ids],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    pairs = list(zip(pids[::2], map(int, pids[1::2]), strict=True))
    locations = [location for cid, pid in pairs if (location := reader.locate(cid, pid)) is not None]
    assert len(locations) == len(ids), "the fast path cannot read these containers"
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for location in locations:
            reader.read(location)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_snapshot(count: int, ids: list[str]) -> list[Row]:
    env = dict(os.environ, DOCKER_MAX_CONTAINERS="100000")
    slow_env = dict(env, DOCKERMEM_FAST_PATH="0")
    ours, theirs = alternate(
        lambda: run([*DOCKERMEM, "stats", "--json"], env),
        lambda: run(["docker", "stats", "--no-stream", "--format", "json"]),
    )
    stream, _ = alternate(lambda: run([*DOCKERMEM, "stats", "--json"], slow_env), lambda: 0.0)
    floor = cgroup_floor(ids)
    baseline = "`docker stats --no-stream --format json`"
    what = f"snapshot, {count} containers:"
    return [
        Row(f"{what} `dockermem stats --json` (cgroup path)", ours, theirs, "s",
            "≤ 0.6 (issue 2), ≤ 0.1 at 100 (issue 5)", baseline),
        Row(f"{what} `dockermem stats --json` (docker stats path)", stream, theirs, "s", "≤ 0.6", baseline),
        Row(f"{what} reading the cgroup files alone (floor)", floor, theirs, "s", "the floor", baseline),
    ]  # fmt: skip


def compose_file_with_services(count: int, directory: Path) -> Path:
    import yaml

    services = {
        f"svc{index}": {"image": "dockermem/memhog:test", "network_mode": "none", "mem_limit": "64m"}
        for index in range(count)
    }
    path = directory / "ten-services.yaml"
    path.write_text(yaml.safe_dump({"name": "dmbench-preflight", "services": services}))
    return path


def bench_preflight() -> list[Row]:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        file = compose_file_with_services(10, Path(directory))
        ours, theirs = alternate(
            lambda: run([*DOCKERMEM, "preflight", "--json", "-f", str(file)], dict(os.environ)),
            lambda: run(["docker", "compose", "-f", str(file), "config", "--format", "json"]),
        )
    return [
        Row("`dockermem preflight`, 10 services", ours, theirs, "s", "< 0.300 s",
            "`docker compose config --format json` (which it runs)")
    ]  # fmt: skip


def bench_up() -> list[Row]:
    demo = str(REPO / "compose" / "demo.yaml")

    def down() -> None:
        subprocess.run(
            ["docker", "compose", "-f", demo, "down", "--timeout", "1"], capture_output=True, check=True
        )

    def compose_up() -> float:
        down()
        return run(["docker", "compose", "-f", demo, "up", "-d", "--wait"])

    def dockermem_up() -> float:
        down()
        return run([*DOCKERMEM, "up", "-f", demo], dict(os.environ, DOCKER_MAX_CONTAINERS="100000"))

    try:
        ours, theirs = alternate(dockermem_up, compose_up)
    finally:
        down()
    return [
        Row("`dockermem up` on the demo stack", ours, theirs, "s", "≤ 1.05", "`docker compose up -d --wait`")
    ]


def bench_help() -> Row:
    times = [run([*DOCKERMEM, "--help"]) for _ in range(max(ROUNDS, 10))]
    python_start = [run([sys.executable, "-c", "pass"]) for _ in range(max(ROUNDS, 10))]
    return Row(
        "`dockermem --help`",
        statistics.median(times),
        statistics.median(python_start),
        "s",
        "< 0.200 s",
        "`python -c pass` (interpreter start)",
    )


def machine() -> str:
    memory = psutil.virtual_memory().total / 1024**3
    docker_version = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{platform.node()}: {platform.machine()}, {os.cpu_count()} CPUs, {memory:.1f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"Docker engine {docker_version}"
    )


def table(rows: list[Row]) -> str:
    lines = [
        "| what | dockermem | baseline | baseline figure | ratio | goal |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        theirs = "—" if row.theirs is None else f"{row.theirs:.3f} {row.unit}"
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            f"| {row.what} | {row.ours:.3f} {row.unit} | {row.baseline} | {theirs} | {ratio} | {row.goal} |"
        )
    return "\n".join(lines)


def main() -> None:
    run_id = uuid.uuid4().hex[:8]
    rows: list[Row] = [bench_help()]
    rows += bench_preflight()
    rows += bench_up()
    counts = [int(n) for n in os.environ.get("DOCKERMEM_BENCH_CONTAINERS", "10,100").split(",")]
    try:
        for count in counts:
            remove_containers(run_id)
            ids = start_containers(count, run_id)
            rows += bench_snapshot(count, ids)
    finally:
        remove_containers(run_id)
    report = "\n".join(
        [
            "# Benchmarks",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench` on {machine()}.",
            f"Medians of {ROUNDS} alternating runs; ratio = dockermem / baseline (lower is better).",
            "",
            table(rows),
            "",
        ]
    )
    print(report)
    (REPO / "docs").mkdir(exist_ok=True)
    (REPO / "docs" / "benchmarks.md").write_text(report)


if __name__ == "__main__":
    main()
