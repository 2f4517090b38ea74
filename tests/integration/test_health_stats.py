"""`health` and `stats` against the real engine, with containers holding known memory."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.realdocker import (
    ENGINES,
    MEMHOG_IMAGE,
    MIB,
    ComposeProject,
    Engine,
    cli_env,
    docker,
    dockermem,
    memhog_service,
    run_container,
    unique_name,
)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

HELD_MIB = {"zero": 0, "forty": 40, "hundred": 100}


@pytest.fixture(scope="module", params=ENGINES, ids=[engine.name for engine in ENGINES])
def held_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ComposeProject]:
    """Three containers holding 0, 40 and 100 MiB in 128 MiB limits, and one without a limit,
    on each engine of the matrix."""
    engine: Engine = request.param
    if engine.docker("version", check=False).returncode != 0:
        pytest.fail(f"the {engine.name} engine does not answer: run scripts/ensure-engines")
    folder = tmp_path_factory.mktemp("health")
    project = ComposeProject(unique_name("dmhealth"), folder / "compose.yaml", engine=engine)
    # No health checks: their process would add to the memory being measured every second.
    project.services = {name: memhog_service(mib, "128m", checked=False) for name, mib in HELD_MIB.items()}
    project.services["unbounded"] = memhog_service(10, None, checked=False)
    try:
        project.up()
        project.wait_ready()
        time.sleep(1)  # the `cat` each readiness probe ran in the containers has left their cgroups
        yield project
    finally:
        project.down()


@pytest.fixture(scope="module")
def other_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeProject]:
    project = ComposeProject(unique_name("dmother"), tmp_path_factory.mktemp("other") / "compose.yaml")
    project.services = {"bystander": memhog_service(5, "64m")}
    try:
        project.up()
        yield project
    finally:
        project.down()


def test_health_json_reports_held_memory_within_ten_percent(
    held_stack: ComposeProject, other_stack: ComposeProject
) -> None:
    engine = held_stack.engine
    ids = {service: held_stack.container_id(service) for service in HELD_MIB}
    kernel_before = {service: engine.kernel_memory_bytes(ids[service]) for service in HELD_MIB}
    result = dockermem("health", "--json", "-p", held_stack.name, env=engine.env())
    kernel_after = {service: engine.kernel_memory_bytes(ids[service]) for service in HELD_MIB}
    document = json.loads(result.stdout)
    assert document["schema"] == 1
    by_service = {c["service"]: c for c in document["containers"]}
    assert set(by_service) == {"zero", "forty", "hundred", "unbounded"}, "-p must narrow to one project"
    assert document["source"] == "cgroup" and document["memory_includes_cache"] is False
    for service, mib in HELD_MIB.items():
        container = by_service[service]
        assert container["project"] == held_stack.name
        assert container["memory_limit_bytes"] == 128 * MIB
        usage = container["memory_usage_bytes"]
        assert isinstance(usage, int)
        # The held memory, within 10 % or 3 MiB: a container's own floor (busybox's sh, and the
        # kernel memory of the readiness probes `exec`ed in it) is 0.6 to 2.1 MiB here.
        assert abs(usage - mib * MIB) <= max(0.10 * mib * MIB, 3 * MIB), (service, usage / MIB)
        # And the kernel's own figures, read just before and just after: within 0.1 MiB of the
        # span between them (the kernel memory of a small container can still move by a
        # quarter of a MiB, seen on Podman, as the probes' processes are freed).
        assert container["id"] == ids[service]
        low, high = sorted((kernel_before[service], kernel_after[service]))
        assert low - 0.1 * MIB <= usage <= high + 0.1 * MIB, (service, usage / MIB, low / MIB, high / MIB)
        assert container["memory_percent"] == pytest.approx(100 * usage / (128 * MIB), abs=0.05)
    assert by_service["zero"]["level"] == "safe"
    assert by_service["forty"]["level"] == "safe"
    assert by_service["hundred"]["level"] == "critical"  # 100/128 = 78 %
    assert by_service["unbounded"]["memory_limit_bytes"] is None
    assert by_service["unbounded"]["memory_percent"] is None
    # A CRITICAL container fails the gate.
    assert result.returncode == 1


def test_health_exits_zero_when_nothing_is_critical(
    held_stack: ComposeProject, other_stack: ComposeProject
) -> None:
    result = dockermem("health", "--json", "-p", other_stack.name, env=cli_env())
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [c["service"] for c in document["containers"]] == ["bystander"]
    host = document["host"]
    assert 0 < host["memory_used_bytes"] < host["memory_total_bytes"]
    assert host["memory_available_bytes"] + host["memory_used_bytes"] == host["memory_total_bytes"]
    engine = document["engine"]
    assert engine["memory_total_bytes"] > 0
    assert engine["limits"] == {
        "containers": 100000,
        "networks": 100000,
        "volumes": 100000,
        "memory_bytes": 8 * 1024**3,
    }
    assert engine["containers"] >= 1


def test_health_report_marks_levels_and_missing_limits(held_stack: ComposeProject) -> None:
    result = dockermem(
        "health", "-p", held_stack.name, env=held_stack.engine.env(COLUMNS="120", NO_COLOR="1")
    )
    out = result.stdout
    assert "DOCKERMEM HEALTH REPORT" in out
    assert "System Memory" in out and "Containers" in out and "Volumes" in out
    hundred_row = next(line for line in out.splitlines() if "-hundred-" in line)
    assert "❌" in hundred_row and "/ 128MiB" in hundred_row
    unbounded_row = next(line for line in out.splitlines() if "-unbounded-" in line)
    assert "no limit" in unbounded_row
    assert result.returncode == 1


def test_stats_json_lists_containers_above_eighty_percent(held_stack: ComposeProject, tmp_path: Path) -> None:
    env = held_stack.engine.env(DOCKERMEM_HIGH_MEMORY_PERCENT="70", DOCKERMEM_STATE_DIR=str(tmp_path))
    result = dockermem("stats", "--json", "-p", held_stack.name, env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["high_memory"]["threshold_percent"] == 70
    assert [name for name in document["high_memory"]["containers"]] == [
        c["name"] for c in document["containers"] if c["service"] == "hundred"
    ]
    assert document["cleanup"]["cleanup_runs"] == 0


def test_unreachable_daemon_gives_exit_69_and_one_line() -> None:
    for command in (["health"], ["stats", "--json"]):
        result = dockermem(*command, env=cli_env(DOCKER_HOST="unix:///nonexistent/docker.sock"))
        assert result.returncode == 69
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "unix:///nonexistent/docker.sock" in lines[0]
        assert "Traceback" not in result.stderr
        if "--json" in command:  # the error as a JSON object on stdout too
            assert json.loads(result.stdout) == {
                "schema": 1, "ok": False, "error": lines[0].removeprefix("dockermem: "), "exit_code": 69,
            }  # fmt: skip
        else:
            assert result.stdout == ""


def test_missing_docker_binary_gives_exit_69() -> None:
    result = dockermem("health", env=cli_env(DOCKERMEM_DOCKER_BINARY="docker-not-installed-here"))
    assert result.returncode == 69
    assert (
        result.stderr.strip()
        == "dockermem: docker is not installed: 'docker-not-installed-here' was not found on PATH"
    )


def test_bad_environment_value_gives_exit_2() -> None:
    result = dockermem("health", env=cli_env(DOCKER_MAX_MEMORY_GB="abc"))
    assert result.returncode == 2
    assert "DOCKER_MAX_MEMORY_GB='abc'" in result.stderr


def proc_stat_marks() -> tuple[int, int]:
    """Busy and total ticks of all CPUs so far, from /proc/stat as vmstat reads it."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def stats_beside_proc_stat() -> tuple[float, float]:
    """`stats --json`'s host CPU, and /proc/stat's busy share over the same run less the CPU
    time of the run itself (dockermem and the docker commands it ran: reaped children)."""
    busy_before, total_before = proc_stat_marks()
    children_before = os.times()
    result = dockermem("stats", "--json", env=cli_env())
    busy_after, total_after = proc_stat_marks()
    children_after = os.times()
    assert result.returncode == 0, result.stderr
    own_seconds = (children_after.children_user + children_after.children_system) - (
        children_before.children_user + children_before.children_system
    )
    own_ticks = own_seconds * os.sysconf("SC_CLK_TCK")
    others = 100.0 * (busy_after - busy_before - own_ticks) / (total_after - total_before)
    return json.loads(result.stdout)["host"]["cpu_percent"], others


def test_host_cpu_is_the_load_there_not_dockermem_s_own_work() -> None:
    # One CPU kept busy by a container (--cpus 1): a known share of this machine's CPUs. What
    # stats says must agree, within 10 points, with /proc/stat over the same run less the
    # run's own CPU time, though its own start-up (a burst of about a CPU for a few hundred ms)
    # falls in its window. The median of three runs.
    engine = ENGINES[0]
    name = unique_name("dmbusy")
    busy_loop = ["sh", "-c", "while :; do :; done"]
    engine.docker("run", "-d", "--name", name, "--network", "none", "--cpus", "1", "--label",
                  "dockermem.test=1", "dockermem/memhog:test", *busy_loop)  # fmt: skip
    try:
        seen = [stats_beside_proc_stat() for _ in range(3)]
        reported = sorted(r for r, _ in seen)[1]
        others = sorted(o for _, o in seen)[1]
        assert others >= 0.8 * 100.0 / (os.cpu_count() or 1), seen  # the busy CPU is there
        assert abs(reported - others) <= 10, seen
    finally:
        engine.docker("rm", "-f", name, check=False)


def test_containers_are_listed_by_their_names_as_people_sort_them() -> None:
    # Replicas and numbered containers: `-2` before `-10`, in the report and under --json.
    prefix = unique_name("dmorder")
    names = [f"{prefix}-10", f"{prefix}-2"]
    try:
        for name in names:
            run_container(name, [MEMHOG_IMAGE, "memhog", "0"])
        document = json.loads(dockermem("health", "--json", env=cli_env()).stdout)
        listed = [c["name"] for c in document["containers"] if c["name"].startswith(prefix)]
        assert listed == [f"{prefix}-2", f"{prefix}-10"]
        report = dockermem("health", env=cli_env(COLUMNS="200")).stdout
        assert report.index(f"{prefix}-2 ") < report.index(f"{prefix}-10 ")
    finally:
        docker("rm", "-f", *names, check=False)
