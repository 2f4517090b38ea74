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
# The `dockermem` script the package installs beside this interpreter: what a user runs.
DOCKERMEM = [str(Path(sys.executable).parent / "dockermem")]
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
        return None if not self.theirs else self.ours / self.theirs


def run(argv: Sequence[str], env: dict[str, str] | None = None, codes: Sequence[int] = (0,)) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    if done.returncode not in codes:
        raise subprocess.CalledProcessError(done.returncode, argv)
    return time.perf_counter() - started


def alternate_rounds(*commands: Callable[[], float], rounds: int = ROUNDS) -> list[list[float]]:
    """Every time of alternating runs of the commands (ours first, the baseline last)."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(rounds):
        for command, kept in zip(commands, times, strict=True):
            kept.append(command())
    return times


def alternate(*commands: Callable[[], float], rounds: int = ROUNDS) -> list[float]:
    """Medians of alternating runs of the commands (ours first, the baseline last)."""
    return [statistics.median(kept) for kept in alternate_rounds(*commands, rounds=rounds)]


# Containers created, started and removed before anything is measured: users' engines have
# served hours of churn, and an engine fresh from a restart answers faster than those do.
AGEING_CONTAINERS = int(os.environ.get("DOCKERMEM_BENCH_AGEING", "300"))


def age_engine(run_id: str) -> None:
    started = time.perf_counter()
    start_containers(range(AGEING_CONTAINERS), f"{run_id}-ageing")
    remove_containers(f"{run_id}-ageing")
    print(f"engine aged: {AGEING_CONTAINERS} containers started and removed in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)  # fmt: skip


# Docker 26 as `make engines` runs it: a daemon with its own cgroup parent, where no common
# layout finds its containers.
DOCKER26_HOST = "unix:///var/run/docker26.sock"


def engine_env(host: str | None, **extra: str) -> dict[str, str]:
    """The environment of a command on the default engine, or on the one at `host`."""
    return dict(os.environ, **({} if host is None else {"DOCKER_HOST": host}), **extra)


# A docker call of the bench's own set-up that takes longer has met a hung daemon (Docker 20.10
# once stopped answering while it removed 50 running containers at once): the bench fails
# rather than wait for ever.
SETUP_CALL_SECONDS = 300


def start_containers(indexes: range, run_id: str, host: str | None = None) -> list[str]:
    """Containers holding 1 MiB each, started four at a time."""
    from concurrent.futures import ThreadPoolExecutor

    def start(index: int) -> str:
        return subprocess.run(
            ["docker", "run", "-d", "--network", "none", "--memory", "32m",
             "--label", f"{BENCH_LABEL}={run_id}", "--name", f"dmbench-{run_id}-{index}",
             "dockermem/memhog:test", "memhog", "1"],
            capture_output=True, text=True, check=True, env=engine_env(host), timeout=SETUP_CALL_SECONDS,
        ).stdout.strip()  # fmt: skip

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(start, indexes))


def remove_containers(run_id: str, host: str | None = None) -> None:
    """The bench's containers, stopped at once then removed, ten at a time."""
    env = engine_env(host)
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={BENCH_LABEL}={run_id}"],
        capture_output=True, text=True, env=env, timeout=SETUP_CALL_SECONDS,
    ).stdout.split()  # fmt: skip
    for start in range(0, len(ids), 10):
        chunk = ids[start : start + 10]
        for command in (["docker", "kill", *chunk], ["docker", "rm", "-f", *chunk]):
            subprocess.run(command, capture_output=True, env=env, timeout=SETUP_CALL_SECONDS)


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


# The snapshot at 100 containers is run more often than the rest: its worst run is a row.
SNAPSHOT_ROUNDS_AT_100 = int(os.environ.get("DOCKERMEM_BENCH_SNAPSHOT_ROUNDS", "11"))


# The design's stack alone, started as `dockermem` starts (cycle collector off): typer and anyio
# imported and an empty event loop run. No command built on that stack starts in less.
STACK_ALONE = [
    sys.executable, "-c", "import gc; gc.disable(); import typer, anyio; anyio.run(anyio.sleep, 0)"
]  # fmt: skip


def bench_snapshot(count: int, ids: list[str]) -> list[Row]:
    env = dict(os.environ, DOCKER_MAX_CONTAINERS="100000")
    slow_env = dict(env, DOCKERMEM_FAST_PATH="0")
    rounds = SNAPSHOT_ROUNDS_AT_100 if count == 100 else ROUNDS
    ours_times, stack_times, theirs_times = alternate_rounds(
        lambda: run([*DOCKERMEM, "stats", "--json"], env),
        lambda: run(STACK_ALONE),
        lambda: run(["docker", "stats", "--no-stream", "--format", "json"]),
        rounds=rounds,
    )
    ours, theirs = statistics.median(ours_times), statistics.median(theirs_times)
    worst = max(range(rounds), key=lambda index: ours_times[index] / theirs_times[index])
    stream, _ = alternate(lambda: run([*DOCKERMEM, "stats", "--json"], slow_env), lambda: 0.0)
    floor = cgroup_floor(ids)
    baseline = "`docker stats --no-stream --format json`"
    what = f"snapshot, {count} containers:"
    ours_what = f"{what} `dockermem stats --json` (cgroup path)"
    only_at_100: list[Row] = []
    if count == 100:
        worst_what = (
            f"{ours_what}, the worst of {rounds} side-by-side runs "
            f"(typer and anyio alone took {stack_times[worst]:.3f} s in that round)"
        )
        worst_row = Row(worst_what, ours_times[worst], theirs_times[worst], "s", "≤ 0.1 (issue 21)", baseline)
        stack_what = f"{what} typer and anyio alone, an empty event loop (no dockermem), median of {rounds}"
        stack = statistics.median(stack_times)
        stack_row = Row(stack_what, stack, theirs, "s", "the floor of typer and anyio", baseline)
        only_at_100 += [worst_row, stack_row]
        ours_what += f", median of {rounds}"
        health, stats = alternate(
            lambda: run([*DOCKERMEM, "health", "--json"], env, codes=(0, 1)),
            lambda: run([*DOCKERMEM, "stats", "--json"], env),
        )
        as_fast = "≈ 1: as fast as `stats --json` (issue 21)"
        only_at_100.append(
            Row(f"{what} `dockermem health --json`", health, stats, "s", as_fast, "`dockermem stats --json`")
        )
    return [
        Row(ours_what, ours, theirs, "s", "≤ 0.6 (issue 2), ≤ 0.1 at 100 (issue 5)", baseline),
        *only_at_100,
        Row(f"{what} `dockermem stats --json` (docker stats path)", stream, theirs, "s", "≤ 0.6", baseline),
        Row(f"{what} reading the cgroup files alone (floor)", floor, theirs, "s", "the floor", baseline),
    ]  # fmt: skip


# Where a snapshot's start-up goes: `python -X importtime` of `stats --json`, each module's own
# time added up by top-level package (what a second `dockermem` cannot share with the first).
IMPORT_GROUPS = ("typer", "asyncio", "anyio", "ssl", "psutil", "tomllib", "dockermem")


def import_times() -> dict[str, float]:
    """Milliseconds of import by package (the rest as "other", all as "total") of one run."""
    env = dict(os.environ, DOCKER_MAX_CONTAINERS="100000")
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dockermem", "stats", "--json"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    spent = dict.fromkeys((*IMPORT_GROUPS, "other", "total"), 0.0)
    for line in done.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        package = fields[2].strip().split(".")[0].removeprefix("_")
        group = package if package in IMPORT_GROUPS else "other"
        spent[group] += int(fields[0]) / 1000
        spent["total"] += int(fields[0]) / 1000
    return spent


def import_table(runs: int = 9) -> str:
    """The import times of the run with the least in all, of `runs` (the others are noise)."""
    best = min((import_times() for _ in range(runs)), key=lambda spent: spent["total"])
    lines = [
        f"Import time of `dockermem stats --json` at 100 containers (`python -X importtime`, each "
        f"module's own time by top-level package; the run with the least in all of {runs}):",
        "",
        "| package | ms |",
        "|---|---|",
        *(f"| {group} | {ms:.1f} |" for group, ms in best.items()),
    ]
    return "\n".join(lines)


def bench_custom_cgroup_parent(count: int, run_id: str) -> list[Row]:
    """The snapshot on Docker 26 with `--cgroup-parent=/docker26`: with the layout learnt and
    kept (every run after the first), and learnt anew (a state directory of its own each run:
    one container located through its PID, the rest guessed)."""
    import tempfile

    start_containers(range(count), run_id, DOCKER26_HOST)
    try:
        env = engine_env(DOCKER26_HOST, DOCKER_MAX_CONTAINERS="100000")
        baseline = ["docker", "stats", "--no-stream", "--format", "json"]

        def cold() -> float:
            with tempfile.TemporaryDirectory() as state:
                return run([*DOCKERMEM, "stats", "--json"], dict(env, DOCKERMEM_STATE_DIR=state))

        ours, learning, theirs = alternate(
            lambda: run([*DOCKERMEM, "stats", "--json"], env), cold, lambda: run(baseline, env)
        )
    finally:
        remove_containers(run_id, DOCKER26_HOST)
    what = f"snapshot, {count} containers on Docker 26 with `--cgroup-parent=/docker26`:"
    text = "`docker stats --no-stream --format json` (Docker 26)"
    return [
        Row(f"{what} `dockermem stats --json`, its layout kept", ours, theirs, "s", "≤ 0.1 (issue 16)", text),
        Row(f"{what} `dockermem stats --json`, its layout learnt (one probe)", learning, theirs, "s", "≤ 0.1",
            text),
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


# Real projects' compose files (../shared/compose-corpus beside the repository, where the
# machine keeps them): read in place, never copied.
CORPUS = REPO.parent / "shared" / "compose-corpus"
CORPUS_STACKS = (
    ("Sentry self-hosted (57 services)", "03-sentry-self-hosted", "docker-compose.yml"),
    ("Sourcegraph (26 services, 152 GiB of limits)", "09-sourcegraph", "docker-compose.yaml"),
)


def bench_corpus_preflight() -> list[Row]:
    """The preflight on the corpus's two largest stacks (both FAIL here: exit 1), against the
    `compose config` it runs. Skipped, and said, where the corpus is not."""
    if not CORPUS.is_dir():
        print(f"{CORPUS} is not here: the compose-corpus rows are left out", file=sys.stderr)
        return []
    rows = []
    for label, folder, name in CORPUS_STACKS:
        files = ["-f", str(CORPUS / folder / name)]
        ours, theirs = alternate(
            lambda files=files: run(
                [*DOCKERMEM, "preflight", "--json", *files], dict(os.environ), codes=(0, 1)
            ),
            lambda files=files: run(["docker", "compose", *files, "config", "--format", "json"]),
        )
        rows.append(
            Row(f"`dockermem preflight`, {label}, from ../shared/compose-corpus", ours, theirs, "s",
                f"≤ baseline + 0.150 s (issue 18): {'✓' if ours <= theirs + 0.150 else '✗'} "
                f"({ours - theirs:+.3f} s)", "`docker compose config --format json` (which it runs)")
        )  # fmt: skip
    return rows


def bench_install() -> list[Row]:
    """A fresh virtualenv's `pip install` of a local dockermem wheel, dependencies from pip's
    cache as a CI job's: wall time, as pip does it by default (byte-compiling everything) and
    with `--no-compile` (as the action installs: Python compiles what is imported, on first
    import), and what it adds to site-packages."""
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
        subprocess.run([*pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", str(folder), str(REPO)],
                       check=True, capture_output=True)  # fmt: skip
        wheel = next(folder.glob("dockermem-*.whl"))

        def install(name: str, *options: str) -> tuple[float, float]:
            venv = folder / name
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)

            def site_size() -> int:
                return sum(path.stat().st_size for path in (venv / "lib").rglob("*") if path.is_file())

            before = site_size()
            seconds = run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                           *options, str(wheel)])  # fmt: skip
            return seconds, (site_size() - before) / 1e6

        seconds, added_mb = install("compiled")
        lean_seconds, lean_mb = install("lean", "--no-compile")
    return [
        Row("`pip install dockermem` (local wheel, fresh virtualenv): wall time", seconds, None, "s",
            f"< 5 s (issue 19): {'✓' if seconds < 5 else '✗'}; half of it byte-compiles rich's pygments", ""),
        Row("`pip install --no-compile dockermem` (as the action installs): wall time", lean_seconds,
            None, "s",
            f"< 5 s (issue 19): {'✓' if lean_seconds < 5 else '✗'}", ""),
        Row("`pip install dockermem`: what it adds to site-packages", added_mb, None, "MB",
            f"< 25 MB (issue 19): {'✓' if added_mb < 25 else '✗'} ({lean_mb:.1f} MB without .pyc files)", ""),
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

    def dockermem_up(ready_on_events: str) -> float:
        down()
        env = dict(os.environ, DOCKER_MAX_CONTAINERS="100000", DOCKERMEM_READY_ON_EVENTS=ready_on_events)
        return run([*DOCKERMEM, "up", "-f", demo], env)

    try:
        ours, verdict, theirs = alternate(lambda: dockermem_up("1"), lambda: dockermem_up("0"), compose_up)
    finally:
        down()
    baseline = "`docker compose up -d --wait`"
    return [
        Row("`dockermem up` on the demo stack", ours, theirs, "s", "≤ 1.05", baseline),
        # What the preflight, the monitor and the report cost when compose's 500 ms look decides.
        Row("`dockermem up`, waiting for compose's verdict (`DOCKERMEM_READY_ON_EVENTS=0`)",
            verdict, theirs, "s", "—", baseline),
    ]  # fmt: skip


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


def tree_cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of a process, the children it has reaped and those still running."""
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in process.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue  # reaped in between: its time is in the parent's children figures now
        total += child_times.user + child_times.system
    return total


def cpu_per_minute(argv: Sequence[str], env: dict[str, str] | None, seconds: float) -> tuple[float, float]:
    """CPU seconds of a long-running command (and every child) in its first 10 s (its start-up),
    and per minute after that (its steady state, what an hour-long watch costs per minute)."""
    warmup = 10.0
    process = psutil.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        time.sleep(warmup)
        at_warm = tree_cpu_seconds(process)
        time.sleep(seconds)
        at_end = tree_cpu_seconds(process)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return at_warm, (at_end - at_warm) * 60 / seconds


def bench_watch_cpu(count: int) -> list[Row]:
    seconds = float(os.environ.get("DOCKERMEM_BENCH_WATCH_SECONDS", "120"))
    env = dict(os.environ, DOCKER_MAX_CONTAINERS="100000")
    watch = [*DOCKERMEM, "watch", "--json", "--interval", "1"]
    ours_start, ours = cpu_per_minute(watch, env, seconds)
    _, theirs = cpu_per_minute(["docker", "stats", "--format", "json"], None, seconds)
    slow_start, slow = cpu_per_minute(watch, dict(env, DOCKERMEM_FAST_PATH="0"), seconds)
    baseline = "`docker stats` streaming alone"
    return [
        Row(f"watch CPU s/min, {count} containers (cgroup path, 1 Hz), steady state",
            ours, theirs, "s", "≤ 0.25", baseline),
        Row(f"watch CPU s/min, {count} containers (docker stats path), steady state",
            slow, theirs, "s", "≤ 1.2", baseline),
        Row(f"watch start-up CPU (first 10 s), {count} containers, cgroup / docker stats path",
            ours_start, slow_start, "s", "—", "the docker stats path's start-up"),
    ]  # fmt: skip


def bench_watch_memory(count: int) -> list[Row]:
    """The watcher's resident memory after one minute, once its 5-minute window is full, and at
    the end of a long run: it grows while the window fills, then stays flat."""
    seconds = float(os.environ.get("DOCKERMEM_BENCH_SOAK_SECONDS", "600"))
    env = dict(os.environ, DOCKER_MAX_CONTAINERS="100000")
    process = subprocess.Popen(
        [*DOCKERMEM, "watch", "--json", "--duration", str(seconds), "--interval", "1", "--no-history"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    watcher = psutil.Process(process.pid)
    started = time.monotonic()
    marks = {"1 min": 60.0, "6 min (window full)": 360.0, "end": seconds - 5}
    rss: dict[str, float] = {}
    for label, at in sorted(marks.items(), key=lambda item: item[1]):
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        rss[label] = watcher.memory_info().rss / (1024 * 1024)
    process.wait(timeout=120)
    minutes = seconds / 60
    return [
        Row(f"watch RSS (MiB), {count} containers: at 1 min vs with its window full (6 min)",
            rss["6 min (window full)"], rss["1 min"], "MiB", "< 80 MB", "RSS at 1 min"),
        Row(f"watch RSS (MiB), {count} containers: after {minutes:.0f} min vs at 6 min",
            rss["end"], rss["6 min (window full)"], "MiB", "flat (ratio ≈ 1.0), < 80 MB", "RSS at 6 min"),
    ]  # fmt: skip


def bench_fast_leak(runs: int = 10) -> list[Row]:
    """A container growing ~100 MiB/s into 512 MiB: is EMERGENCY reported before the OOM kill,
    by dockermem (cgroup path, 20 Hz) and by a monitor fed by docker stats frames?"""
    import json

    limit = 512 * 1024 * 1024
    caught_ours = caught_theirs = 0
    delays: list[float] = []
    for run_index in range(runs):
        name = f"dmbench-fastleak-{uuid.uuid4().hex[:6]}"
        project = f"dmbenchleak{run_index}{uuid.uuid4().hex[:4]}"
        watcher = subprocess.Popen(
            [*DOCKERMEM, "watch", "--json", "-p", project, "--duration", "12", "--interval", "0.05"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=dict(os.environ, DOCKER_MAX_CONTAINERS="100000"),
        )  # fmt: skip
        stats = subprocess.Popen(
            ["docker", "stats", "--format", "{{json .}}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        time.sleep(1.5)
        subprocess.run(
            ["docker", "run", "-d", "--network", "none", "--memory", "512m", "--memory-swap", "512m",
             "--name", name, "--label", f"com.docker.compose.project={project}",
             "dockermem/memhog:test", "memhog", "0", "100"],
            capture_output=True, check=True,
        )  # fmt: skip
        out, _ = watcher.communicate(timeout=60)
        stats.kill()
        stats_out = stats.communicate()[0]
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        emergency = [e for e in events if e["type"] == "emergency"]
        oom = [e for e in events if e["type"] == "oom"]
        if emergency and (not oom or emergency[0]["ts"] < oom[0]["ts"]):
            caught_ours += 1
            usage = emergency[0]["memory_usage_bytes"]
            delays.append(max(0.0, (usage - 0.9 * limit) / (100 * 1024 * 1024)))
        frames = [line for line in stats_out.splitlines() if name in line]
        if any(_stats_percent(line) >= 90 for line in frames):
            caught_theirs += 1
    delay = statistics.median(delays) if delays else float("nan")
    return [
        Row(f"fast leak (100 MiB/s into 512 MiB): EMERGENCY before the OOM kill, of {runs} runs",
            caught_ours, caught_theirs, "runs", f"{runs} of {runs}",
            "a monitor fed by `docker stats` frames"),
        Row("fast leak: from crossing 90 % to dockermem's EMERGENCY (median)",
            delay, None, "s", "< 0.3 s", "—"),
    ]  # fmt: skip


def _stats_percent(line: str) -> float:
    import json

    from dockermem.docker.parse import strip_escape_codes

    try:
        value = json.loads(strip_escape_codes(line).strip())["MemPerc"].rstrip("%")
        return float(value)
    except (ValueError, KeyError):
        return 0.0


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
    age_engine(run_id)
    rows: list[Row] = [bench_help(), *bench_install()]
    rows += bench_preflight()
    rows += bench_corpus_preflight()
    rows += bench_up()
    counts = [int(n) for n in os.environ.get("DOCKERMEM_BENCH_CONTAINERS", "10,100,300").split(",")]
    rows += bench_fast_leak()
    ids: list[str] = []
    imports = ""
    try:
        for count in counts:
            ids += start_containers(range(len(ids), count), run_id)
            rows += bench_snapshot(count, ids)
            if count == 100:
                imports = import_table()
                rows += bench_watch_cpu(count)
                if os.environ.get("DOCKERMEM_BENCH_SOAK_SECONDS", "600") != "0":
                    rows += bench_watch_memory(count)
    finally:
        remove_containers(run_id)
    rows += bench_custom_cgroup_parent(100, run_id)
    report = "\n".join(
        [
            "# Benchmarks",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench` on {machine()}.",
            f"Medians of {ROUNDS} alternating runs (unless a row says otherwise); ratio = dockermem / "
            "baseline (lower is better). The engine had served churn first: "
            f"{AGEING_CONTAINERS} containers started and removed before any row was measured.",
            "",
            table(rows),
            "",
            *([imports, ""] if imports else []),
        ]
    )
    print(report)
    (REPO / "docs").mkdir(exist_ok=True)
    (REPO / "docs" / "benchmarks.md").write_text(report)


if __name__ == "__main__":
    main()
