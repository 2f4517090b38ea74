"""`preflight` against the real engine and real compose files."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from dockermem.docker.runner import find_compose_plugin
from tests.conftest import REPO
from tests.integration.daemons import SecondDaemon
from tests.integration.realdocker import (
    MEMHOG_IMAGE,
    ComposeProject,
    Engine,
    chained_services,
    cli_env,
    dockermem,
    memhog_service,
    run_container,
    unique_name,
    wait_until,
)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]
GIB = 1024**3
MIB = 1024**2


def test_stack_that_fits_passes_with_its_declared_limits() -> None:
    result = dockermem("preflight", "--json", "-f", str(REPO / "compose/test/fits.yaml"), env=cli_env())
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    services = {s["name"]: s for s in document["services"]}
    assert services["small"]["limit_bytes"] == 64 * MIB
    assert services["tiny"]["limit_bytes"] == 32 * MIB
    assert services["tiny"]["reservation_bytes"] == 16 * MIB
    assert document["required_bytes"] == 96 * MIB
    assert 0 < document["available_bytes"] <= 8 * GIB
    assert document["available_bytes"] <= document["host_available_bytes"] - document["margin_bytes"]


def test_each_replica_counts() -> None:
    result = dockermem("preflight", "--json", "-f", str(REPO / "compose/test/replicas.yaml"), env=cli_env())
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    services = {s["name"]: s for s in document["services"]}
    assert (services["web"]["replicas"], services["queue"]["replicas"]) == (3, 2)
    assert services["web"]["counted_bytes"] == 64 * MIB  # one replica
    assert document["required_bytes"] == 3 * 64 * MIB + 2 * 32 * MIB
    assert document["counts"]["containers"]["adding"] == 5


def test_stack_larger_than_the_machine_fails_with_its_shortfall() -> None:
    result = dockermem("preflight", "-f", str(REPO / "compose/test/huge.yaml"), env=cli_env(COLUMNS="200"))
    assert result.returncode == 1
    assert "FAIL" in result.stdout
    assert "short by" in result.stdout
    assert "500GiB" in result.stdout  # 200g + 300g, although neither image exists
    document = json.loads(
        dockermem("preflight", "--json", "-f", str(REPO / "compose/test/huge.yaml"), env=cli_env()).stdout
    )
    assert document["ok"] is False
    assert document["shortfall_bytes"] == document["required_bytes"] - document["available_bytes"]
    assert not any("profile" in line for line in document["recommendations"])  # no memory profile helps


def test_a_memory_profile_never_lowers_what_the_services_declare() -> None:
    # 500 GiB declared: a 1.4 GiB budget cannot pass it (it once did, at the profile's figure).
    huge = str(REPO / "compose/test/huge.yaml")
    result = dockermem("preflight", "--json", "--memory-profile", "minimal", "-f", huge, env=cli_env())
    document = json.loads(result.stdout)
    assert result.returncode == 1 and document["ok"] is False
    assert (document["required_bytes"], document["declared_bytes"]) == (500 * GIB, 500 * GIB)
    assert (document["memory_profile"], document["memory_profile_bytes"]) == ("minimal", int(1.4 * GIB))
    assert any("more than the memory profile 'minimal'" in line for line in document["recommendations"])


def test_a_memory_profile_is_the_budget_a_small_stack_reserves() -> None:
    fits = str(REPO / "compose/test/fits.yaml")
    result = dockermem("preflight", "--json", "--memory-profile", "minimal", "-f", fits, env=cli_env())
    document = json.loads(result.stdout)
    assert result.returncode == 0 and document["ok"] is True
    assert (document["required_bytes"], document["declared_bytes"]) == (int(1.4 * GIB), 96 * MIB)


def test_budget_is_capped_by_docker_max_memory_gb() -> None:
    result = dockermem(
        "preflight",
        "--json",
        "-f",
        str(REPO / "compose/test/fits.yaml"),
        env=cli_env(DOCKER_MAX_MEMORY_GB="0.05"),
    )
    document = json.loads(result.stdout)
    assert document["available_bytes"] == int(0.05 * GIB)
    assert result.returncode == 1


def test_invalid_compose_file_gives_exit_2_and_composes_message() -> None:
    result = dockermem("preflight", "-f", str(REPO / "compose/test/invalid.yaml"), env=cli_env())
    assert result.returncode == 2
    assert "services.broken.mem_limit must be a number or string" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unbounded_services_are_listed_and_counted_at_the_default() -> None:
    result = dockermem(
        "preflight",
        "--json",
        "-f",
        str(REPO / "compose/test/unbounded.yaml"),
        env=cli_env(DOCKERMEM_UNBOUNDED_SERVICE_GB="0.25"),
    )
    document = json.loads(result.stdout)
    assert document["services"] == [
        {
            "name": "free",
            "limit_bytes": None,
            "reservation_bytes": None,
            "counted_bytes": GIB // 4,
            "counted_from": "default",
            "estimate": "default",
            "recorded_runs": None,
            "replicas": 1,
        }
    ]
    assert any(line.startswith("No memory limit on 1 service: free (256MiB, default guess).")
               for line in document["recommendations"])  # fmt: skip


def test_unbounded_service_counts_at_its_recorded_peak(tmp_path: Path) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    from dockermem.core.history import HistoryStore
    from tests.unit.test_history import container, frame

    history = tmp_path / "history.sqlite3"
    # Recorded now, by the real clock: the preflight under test, another process, reads the last
    # 30 days by the real clock too.
    recorded = replace(frame(0, container("free", 100, project="dockermem-unbounded")), ts=datetime.now(UTC))
    with HistoryStore(history) as store:
        run = store.start_run("watch", "dockermem-unbounded")
        store.record_frame(run, recorded)
        # The kernel's own OOM killer took a process of it once: the host ran out, not its limit.
        store.record_oom(
            run, recorded.ts, "default", "dockermem-unbounded", "free", "c1", "python", MIB, True
        )
        store.end_run(run)
    result = dockermem(
        "preflight", "--json", "-f", str(REPO / "compose/test/unbounded.yaml"),
        env=cli_env(DOCKERMEM_HISTORY_FILE=str(history)),
    )  # fmt: skip
    document = json.loads(result.stdout)
    service = document["services"][0]
    assert (service["counted_bytes"], service["counted_from"]) == (100 * MIB, "recorded peak")
    assert (service["estimate"], service["recorded_runs"]) == ("recorded", 1)
    assert any(line.startswith("The host ran out of memory once while this stack ran") for line in
               document["recommendations"])  # fmt: skip


def preflight_of(project: ComposeProject, *services: str) -> dict[str, Any]:
    """`preflight --json` of the project's file, with services named."""
    project.write()
    result = dockermem("preflight", "--json", "-f", str(project.file), "-p", project.name, *services,
                       env=cli_env())  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_named_services_count_with_what_they_depend_on_as_compose_starts_them(
    project: ComposeProject,
) -> None:
    # Compose starts `web` with `db` and, through db, `cache`; `big` stays down.
    project.services = chained_services()
    document = preflight_of(project, "web")
    assert sorted(s["name"] for s in document["services"]) == ["cache", "db", "web"]
    assert document["required_bytes"] == (128 + 64 + 32) * MIB
    assert document["counts"]["containers"]["adding"] == 3
    assert document["selected_services"] == ["web"]
    # The whole stack (the inactive profile left out) for comparison.
    whole = preflight_of(project)
    assert whole["required_bytes"] == (128 + 64 + 32 + 512) * MIB
    assert whole["selected_services"] == []


def test_a_named_service_of_an_inactive_profile_counts_as_compose_enables_it(
    project: ComposeProject,
) -> None:
    project.services = chained_services()
    document = preflight_of(project, "extra", "cache")
    assert sorted(s["name"] for s in document["services"]) == ["cache", "extra"]
    assert document["required_bytes"] == (16 + 32) * MIB


def test_unknown_memory_profile_is_bad_usage() -> None:
    result = dockermem(
        "preflight", "--memory-profile", "gigantic", "-f", str(REPO / "compose/test/fits.yaml"), env=cli_env()
    )
    assert result.returncode == 2
    assert "unknown profile 'gigantic'" in result.stderr


STACKS = ["compose/test/fits.yaml", "compose/test/invalid.yaml", "compose/demo.yaml"]


@pytest.mark.parametrize("stack", STACKS)
def test_compose_run_as_the_plugin_itself_answers_as_docker_compose_does(stack: str) -> None:
    """The plugin run directly (the default) and `docker compose` give the same preflight."""
    assert find_compose_plugin() is not None, "make test installs Compose v2 as a CLI plugin"
    args = ("preflight", "--json", "-f", str(REPO / stack))
    direct = dockermem(*args, env=cli_env())
    through_cli = dockermem(*args, env=cli_env(DOCKERMEM_COMPOSE_DIRECT="0"))
    assert direct.returncode == through_cli.returncode
    assert direct.stderr == through_cli.stderr
    if direct.returncode != 2:
        mine, theirs = json.loads(direct.stdout), json.loads(through_cli.stdout)
        assert mine["services"] == theirs["services"] and mine["required_bytes"] == theirs["required_bytes"]


def test_too_many_containers_gets_a_cleanup_that_runs_as_written_and_frees_them(
    tmp_path: Path, second_daemon: SecondDaemon
) -> None:
    # On an engine of the test's own: a project stopped and left behind (what a test run that
    # died leaves) and a container made by hand and stopped. The advice tells them apart, and
    # its cleanup command, run as it is written (with --yes: it asks off a terminal), removes
    # the project's containers and nothing else.
    engine = Engine("second", second_daemon.host, "docker/{id}")
    old = ComposeProject(
        unique_name("dmstale"), tmp_path / "stale.yaml",
        {"a": memhog_service(1, "32m", checked=False), "b": memhog_service(1, "32m", checked=False)},
        engine=engine,
    )  # fmt: skip
    old.write()
    old.compose("up", "-d")
    old.compose("stop", "--timeout", "1")
    by_hand = unique_name("dmbyhand")
    run_container(by_hand, [MEMHOG_IMAGE, "true"], engine=engine)
    state = ("inspect", "-f", "{{.State.Status}}", by_hand)
    wait_until(
        lambda: engine.docker(*state).stdout.strip() == "exited", what="the container made by hand stopped"
    )
    env = cli_env(DOCKER_HOST=second_daemon.host, DOCKER_MAX_CONTAINERS="3")
    fits = str(REPO / "compose/test/fits.yaml")
    document = json.loads(dockermem("preflight", "--json", "-f", fits, env=env).stdout)
    [advice] = [line for line in document["recommendations"] if line.startswith("Containers:")]
    command = f"dockermem cleanup -p {old.name}"
    assert advice == (
        "Containers: 3 exist and the stack adds 2, above the maximum of 3 (DOCKER_MAX_CONTAINERS). "
        f"2 are stopped in compose projects ('{old.name}' 2): `{command}` removes them (it lists them "
        "and asks first). 1 is stopped and not made by compose, which dockermem cleanup leaves "
        "(`docker container prune` removes every stopped container). Or raise DOCKER_MAX_CONTAINERS."
    )
    cleaned = dockermem(*shlex.split(command)[1:], "--yes", env=env)
    assert cleaned.returncode == 0, cleaned.stderr
    after = json.loads(dockermem("preflight", "--json", "-f", fits, env=env).stdout)
    assert after["counts"]["containers"] == {"current": 1, "adding": 2, "maximum": 3, "ok": True}
    assert not any(line.startswith("Containers:") for line in after["recommendations"])
    assert engine.docker(*state).stdout.strip() == "exited"
