"""The one door to docker, tried with stand-in `docker` binaries for faults that cannot be
ordered from a real engine (a call that hangs, a daemon that resets a connection once), and
with the real client for a daemon that is not there."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import anyio
import pytest

from dockermem.docker.client import DockerClient
from dockermem.docker.runner import DockerRunner, RunnerLimits, find_compose_plugin
from dockermem.errors import (
    DaemonUnreachableError,
    DockerCommandError,
    DockerNotInstalledError,
    DockerTimeoutError,
)
from tests.conftest import FIXTURES
from tests.processes import running_with


def stand_in(tmp_path: Path, body: str) -> RunnerLimits:
    """A `docker` that runs the given shell body, logging each start to calls.log with the
    kernel's uptime (a clock the clock guard's faketime leaves alone: every process it starts
    begins at the faked instant, so the wall clock cannot space starts apart)."""
    script = tmp_path / "docker"
    script.write_text(
        f'#!/bin/sh\nread uptime idle < /proc/uptime\necho "$$ $uptime" >> {tmp_path}/calls.log\n{body}\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return RunnerLimits(binary=str(script), spacing_seconds=0.0, retries=2, backoff_seconds=0.01)


def calls(tmp_path: Path) -> list[tuple[int, float]]:
    log = tmp_path / "calls.log"
    if not log.exists():
        return []
    return [(int(pid), float(at)) for pid, at in (line.split() for line in log.read_text().splitlines())]


def test_missing_binary_names_what_was_looked_for() -> None:
    runner = DockerRunner(RunnerLimits(binary="docker-that-is-not-installed"))
    with pytest.raises(DockerNotInstalledError, match="docker-that-is-not-installed"):
        anyio.run(runner.run, ["info"])


def test_hanging_call_is_killed_at_its_timeout_retried_and_leaves_no_process(tmp_path: Path) -> None:
    # The stand-in starts a child of its own, as the compose plugin is a child of docker.
    limits = stand_in(tmp_path, f"sleep 300 &\necho $! >> {tmp_path}/children.log\nwait")
    runner = DockerRunner(limits)

    async def main() -> None:
        await runner.run(["ps"], time_limit=0.5, retries=1)

    with pytest.raises(DockerTimeoutError) as caught:
        anyio.run(main)
    assert caught.value.attempts == 2
    assert "did not answer within 0.5s" in str(caught.value)
    started = [pid for pid, _ in calls(tmp_path)]
    children = [int(line) for line in (tmp_path / "children.log").read_text().split()]
    assert len(started) == 2 and len(children) == 2
    assert running_with(started + children, "sleep 300") == []
    assert running_with(started, str(tmp_path)) == []


def test_transient_daemon_error_is_retried(tmp_path: Path) -> None:
    body = f"""if [ ! -e {tmp_path}/failed-once ]; then
  touch {tmp_path}/failed-once
  echo "error: read unix @->/var/run/docker.sock: read: connection reset by peer" >&2
  exit 1
fi
echo ok"""
    runner = DockerRunner(stand_in(tmp_path, body))
    result = anyio.run(runner.run, ["ps"])
    assert result.stdout.strip() == "ok"
    assert len(calls(tmp_path)) == 2


def test_ordinary_failure_is_not_retried_and_keeps_argv_code_and_stderr(tmp_path: Path) -> None:
    runner = DockerRunner(stand_in(tmp_path, 'echo "Error: No such container: nope" >&2; exit 3'))
    with pytest.raises(DockerCommandError) as caught:
        anyio.run(runner.run, ["inspect", "nope"])
    error = caught.value
    assert error.returncode == 3
    assert error.argv[1:] == ("inspect", "nope")
    assert "No such container: nope" in error.stderr
    assert len(calls(tmp_path)) == 1


def test_unreachable_daemon_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    runner = DockerRunner(RunnerLimits())
    with pytest.raises(DaemonUnreachableError) as caught:
        anyio.run(runner.run, ["info", "--format", "{{json .}}"])
    assert "unix:///nonexistent/docker.sock" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_starts_are_spaced(tmp_path: Path) -> None:
    # Each call's start is when the runner made its process (the kernel's start time of it, in
    # clock ticks since boot), not when its shell got to run: on a busy machine a process can
    # wait to be scheduled for longer than the spacing, which says nothing of the runner.
    started = f'read -r stat < /proc/$$/stat; set -- ${{stat##*) }}; echo "${{20}}" >> {tmp_path}/forks.log'
    limits = stand_in(tmp_path, started)
    runner = DockerRunner(RunnerLimits(binary=limits.binary, spacing_seconds=0.2, concurrency=4))

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            for _ in range(3):
                tasks.start_soon(runner.run, ["ps"])

    anyio.run(main)
    ticks = os.sysconf("SC_CLK_TCK")
    starts = sorted(int(line) / ticks for line in (tmp_path / "forks.log").read_text().split())
    assert len(starts) == 3
    # Start times count ticks (hundredths here): 0.2 s apart reads at least 0.19.
    assert all(later - earlier >= 0.18 for earlier, later in zip(starts, starts[1:], strict=False))


def test_concurrency_limit_holds(tmp_path: Path) -> None:
    ended = f'sleep 0.2; read uptime idle < /proc/uptime; echo "$$ $uptime" >> {tmp_path}/ends.log'
    limits = stand_in(tmp_path, ended)
    runner = DockerRunner(RunnerLimits(binary=limits.binary, spacing_seconds=0.0, concurrency=1))

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            for _ in range(3):
                tasks.start_soon(runner.run, ["ps"])

    anyio.run(main)
    starts = {pid: at for pid, at in calls(tmp_path)}
    ends = {
        int(pid): float(at)
        for pid, at in (line.split() for line in (tmp_path / "ends.log").read_text().splitlines())
    }
    spans = sorted((starts[pid], ends[pid]) for pid in starts)
    assert all(next_start >= end for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False))


def test_stream_yields_whole_lines_and_ends_its_process_when_left(tmp_path: Path) -> None:
    body = f"""echo $$ > {tmp_path}/stream.pid
printf 'first li'; sleep 0.1; printf 'ne\\nsecond line\\n'; sleep 0.1; printf 'third'
sleep 300"""
    runner = DockerRunner(stand_in(tmp_path, body))
    received: list[str] = []

    async def main() -> None:
        async with runner.stream(["stats"]) as stream:
            async for line in stream.lines():
                received.append(line)
                if len(received) == 2:
                    break

    anyio.run(main)
    assert received == ["first line", "second line"]
    pid = int((tmp_path / "stream.pid").read_text())
    assert running_with([pid], str(tmp_path)) == []


def test_no_shell_anywhere_in_the_package() -> None:
    package = Path(__file__).resolve().parents[2] / "dockermem"
    forbidden = ("shell=True", "os.system(", "create_subprocess_shell", "os.popen(")
    sources = list(package.rglob("*.py"))
    assert len(sources) > 10
    for path in sources:
        text = path.read_text()
        for needle in forbidden:
            assert needle not in text, f"{path} uses {needle}"
    # One door: only the runner starts processes.
    starters = ("open_process", "run_process", "subprocess.")
    for path in sources:
        if path.name != "runner.py":
            assert not any(s in path.read_text() for s in starters), f"{path} starts a process itself"


def test_a_call_cancelled_at_any_moment_leaves_no_process(tmp_path: Path) -> None:
    """Cancelled while its process is being started, or at any point after, a call still ends
    and reaps what it started (a cancel that lands inside the start must not orphan it)."""
    limits = stand_in(tmp_path, "exec sleep 300")
    runner = DockerRunner(limits)

    async def main() -> None:
        for step in range(40):
            with anyio.move_on_after(step * 0.0005):
                await runner.run(["ps"], retries=0)

    anyio.run(main)
    started = [pid for pid, _ in calls(tmp_path)]
    assert started  # some calls got as far as running the stand-in
    assert running_with(started, "sleep 300") == []


def test_a_stats_snapshot_reads_the_unnamed_stream_when_docker_gave_up_waiting_for_a_first_reading(
    tmp_path: Path,
) -> None:
    """On a busy engine with hundreds of containers, `docker stats <ids>` can exit 1 with
    "timeout waiting for stats" (seen here at 300 containers): the snapshot then reads the
    unnamed stream, which shows such a container as `--` until its reading comes, and keeps the
    wanted containers' lines; it fails with docker's word only when that stream fails too."""
    recorded = FIXTURES / "stats" / "stream-narrow-format.raw"
    first_answer = 'echo "timeout waiting for stats" >&2; exit 1'
    body = (
        f'echo "$*" >> {tmp_path}/argv.log; '
        f"if [ -e {tmp_path}/asked ]; then cat {recorded}; else touch {tmp_path}/asked; {first_answer}; fi"
    )
    client = DockerClient(DockerRunner(stand_in(tmp_path, body)))
    container_id = "bfb9f8f6ab8d" + "0" * 52
    stats = anyio.run(client.container.stats, [container_id])
    assert [(s.name, s.memory_limit_bytes) for s in stats] == [("dm-stats-narrow", 128 * 1024**2)]
    named, unnamed = (tmp_path / "argv.log").read_text().splitlines()
    assert named.startswith("stats --format ") and named.endswith(container_id)
    assert unnamed.startswith("stats --format ") and container_id not in unnamed

    (tmp_path / "again").mkdir()
    always_slow = DockerClient(DockerRunner(stand_in(tmp_path / "again", first_answer)))
    with pytest.raises(DockerCommandError, match="timeout waiting for stats"):
        anyio.run(always_slow.container.stats, [container_id])
    assert len(calls(tmp_path / "again")) == 2


def test_the_unnamed_stream_gives_only_the_wanted_containers(tmp_path: Path) -> None:
    """The unnamed stream shows every running container: the snapshot keeps the one it
    wants, and a wanted one that has no line there is left out (it has stopped)."""
    recorded = FIXTURES / "stats" / "stream-narrow-format.raw"
    slow = 'echo "timeout waiting for stats" >&2; exit 1'
    body = f"if [ -e {tmp_path}/asked ]; then cat {recorded}; else touch {tmp_path}/asked; {slow}; fi"
    client = DockerClient(DockerRunner(stand_in(tmp_path, body)))
    wanted = ["e58ec1683866" + "1" * 52, "0123456789ab" + "0" * 52]
    stats = anyio.run(client.container.stats, wanted)
    assert [s.name for s in stats] == ["dm-stats-narrow-unlimited"]
    assert wanted[0].startswith(stats[0].id)
    assert len(calls(tmp_path)) == 2


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_compose_plugin_is_found_where_the_docker_cli_looks_user_directory_first(tmp_path: Path) -> None:
    environ = {"DOCKER_CONFIG": str(tmp_path / "config")}
    system = executable(tmp_path / "system" / "docker-compose")
    assert find_compose_plugin(environ, [str(system.parent)]) == str(system)
    users = executable(tmp_path / "config" / "cli-plugins" / "docker-compose")
    assert find_compose_plugin(environ, [str(system.parent)]) == str(users)


def test_compose_plugin_is_left_to_the_cli_when_missing_not_executable_or_extra_dirs_are_configured(
    tmp_path: Path,
) -> None:
    environ = {"DOCKER_CONFIG": str(tmp_path / "config")}
    assert find_compose_plugin(environ, [str(tmp_path / "empty")]) is None
    plain = tmp_path / "plain" / "docker-compose"
    plain.parent.mkdir()
    plain.write_text("not a program")
    system = executable(tmp_path / "system" / "docker-compose")
    # The CLI takes the first one found, and refuses it: so does dockermem, not the next one.
    assert find_compose_plugin(environ, [str(plain.parent), str(system.parent)]) is None
    assert find_compose_plugin(environ, [str(system.parent)]) == str(system)
    as_a_plugin = {**environ, "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND": "docker"}
    assert find_compose_plugin(as_a_plugin, [str(system.parent)]) is None
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.json").write_text('{"cliPluginsExtraDirs": ["/opt/plugins"]}')
    assert find_compose_plugin(environ, [str(system.parent)]) is None


def test_compose_runs_as_the_plugin_with_the_context_and_other_commands_through_the_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plugin = executable(tmp_path / "cli-plugins" / "docker-compose")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    runner = DockerRunner(RunnerLimits(), context="ci")
    assert runner.argv(["compose", "--file", "a.yaml", "config"]) == [
        str(plugin), "--context", "ci", "--file", "a.yaml", "config",
    ]  # fmt: skip
    assert runner.argv(["ps", "--all"])[1:] == ["--context", "ci", "ps", "--all"]
    assert runner.argv(["ps"])[0].endswith("/docker")


def test_a_named_docker_binary_or_compose_direct_off_sees_every_compose_call(tmp_path: Path) -> None:
    limits = stand_in(tmp_path, "exit 0")
    assert DockerRunner(limits).argv(["compose", "config"]) == [limits.binary, "compose", "config"]
    through_cli = DockerRunner(RunnerLimits(compose_direct=False)).argv(["compose", "config"])
    assert through_cli[0].endswith("/docker") and through_cli[1:] == ["compose", "config"]


def test_compose_plugin_is_left_to_the_cli_when_there_is_no_home_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    system = executable(tmp_path / "system" / "docker-compose")
    assert find_compose_plugin({}, [str(system.parent)]) is None
    assert find_compose_plugin({"DOCKER_CONFIG": str(tmp_path)}, [str(system.parent)]) == str(system)


def test_the_unnamed_stream_placeholder_without_an_id_is_passed_over(tmp_path: Path) -> None:
    """Seen at 300 containers: the unnamed stream shows a container docker has nothing on yet
    as a line with an empty ID; the snapshot passes over it (it once failed to parse it)."""
    recorded = FIXTURES / "stats" / "stream-narrow-format.raw"
    placeholder = '{"ID":"","Name":"--","MemUsage":"-- / --","MemPerc":"--","CPUPerc":"--","PIDs":"--"}'
    slow = 'echo "timeout waiting for stats" >&2; exit 1'
    body = (
        f"if [ -e {tmp_path}/asked ]; then echo '{placeholder}'; cat {recorded}; "
        f"else touch {tmp_path}/asked; {slow}; fi"
    )
    client = DockerClient(DockerRunner(stand_in(tmp_path, body)))
    stats = anyio.run(client.container.stats, ["bfb9f8f6ab8d" + "0" * 52])
    assert [s.name for s in stats] == ["dm-stats-narrow"]


def test_a_call_started_early_is_taken_up_by_its_run_and_not_run_again(tmp_path: Path) -> None:
    runner = DockerRunner(stand_in(tmp_path, 'echo "listed $*"'))
    runner.start_early(["ps", "--all"])
    runner.start_early(["ps", "--all"])  # a second start of the same call starts nothing
    result = anyio.run(runner.run, ["ps", "--all"])
    assert result.stdout == "listed ps --all\n" and result.returncode == 0
    assert result.argv == (str(tmp_path / "docker"), "ps", "--all")
    assert len(calls(tmp_path)) == 1
    # Taken up once: the next run of the same call runs it anew.
    anyio.run(runner.run, ["ps", "--all"])
    assert len(calls(tmp_path)) == 2


def test_a_call_started_early_is_judged_as_any_other(tmp_path: Path) -> None:
    body = 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1'
    runner = DockerRunner(stand_in(tmp_path, body))
    runner.start_early(["ps"])
    with pytest.raises(DaemonUnreachableError):
        anyio.run(runner.run, ["ps"])
    assert len(calls(tmp_path)) == 1


def test_a_call_started_early_that_hangs_is_killed_at_its_timeout_and_tried_again(tmp_path: Path) -> None:
    # Its timeout counts from its early start; the retry is an ordinary call.
    limits = stand_in(tmp_path, f"sleep 300 &\necho $! >> {tmp_path}/children.log\nwait")
    runner = DockerRunner(limits)
    runner.start_early(["ps"])

    async def main() -> None:
        await runner.run(["ps"], time_limit=0.5, retries=1)

    with pytest.raises(DockerTimeoutError) as caught:
        anyio.run(main)
    assert caught.value.attempts == 2
    started = [pid for pid, _ in calls(tmp_path)]
    children = [int(line) for line in (tmp_path / "children.log").read_text().split()]
    assert len(started) == 2 and len(children) == 2
    assert running_with(started + children, "sleep 300") == []


def test_a_call_started_early_and_cancelled_while_taken_up_leaves_no_process(tmp_path: Path) -> None:
    runner = DockerRunner(stand_in(tmp_path, "exec sleep 300"))
    runner.start_early(["ps"])

    async def main() -> None:
        with anyio.move_on_after(0.3):
            await runner.run(["ps"], retries=0)

    anyio.run(main)
    started = [pid for pid, _ in calls(tmp_path)]
    assert len(started) == 1
    assert running_with(started, "sleep 300") == []


def test_a_call_started_early_and_never_taken_up_is_ended_when_dockermem_exits(tmp_path: Path) -> None:
    import subprocess
    import sys

    limits = stand_in(tmp_path, "exec sleep 300")
    code = (
        "from dockermem.docker.runner import DockerRunner, RunnerLimits\n"
        f"DockerRunner(RunnerLimits(binary={limits.binary!r})).start_early(['ps'])\n"
        "import os, pathlib\n"  # no sleep: the clock guard's faketime breaks it in a child
        f"while not pathlib.Path({str(tmp_path / 'calls.log')!r}).exists(): os.sched_yield()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    started = [pid for pid, _ in calls(tmp_path)]
    assert len(started) == 1
    assert running_with(started, "sleep 300") == []
