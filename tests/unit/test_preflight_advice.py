"""The preflight's advice, worded for one and for many."""

from __future__ import annotations

from dataclasses import replace

from dockermem.config import Settings
from dockermem.core.preflight import (
    ContainerCensus,
    CountCheck,
    MemoryBudget,
    ProjectUsage,
    count_advice,
    recommendations,
)
from tests.builders import summary

MIB = 1024**2
GIB = 1024**3


def test_one_and_many_are_worded_apart() -> None:
    budget = MemoryBudget(host_available_bytes=2 * GIB, engine_total_bytes=16 * GIB, engine_in_use_bytes=None,
                          margin_bytes=512 * MIB,
                          cap_bytes=8 * GIB)  # fmt: skip
    advice = recommendations(
        Settings(), 4 * GIB, budget, [],
        [CountCheck("containers", 1, 30, 20), CountCheck("volumes", 12, 1, 10)],
        [ProjectUsage("old", 1, 100 * MIB), ProjectUsage("older", 3, 200 * MIB)],
    )  # fmt: skip
    assert "Stopping project 'old' (1 running container) would free about 100MiB." in advice
    assert "Stopping project 'older' (3 running containers) would free about 200MiB." in advice
    assert any(line.startswith("Containers: 1 exists and the stack adds 30") for line in advice)
    assert any(line.startswith("Volumes: 12 exist and the stack adds 1") for line in advice)


def census_of_an_engine() -> ContainerCensus:
    """An engine with the stack's own containers, stopped and running ones of other projects,
    and containers compose did not make."""
    stopped = "exited"
    containers = [
        summary("shop-api-1", "api", project="shop"),  # the stack's own: compose reuses it
        replace(summary("shop-db-1", "db", project="shop"), state=stopped),
        replace(summary("old-a-1", "a", project="old"), state=stopped),
        replace(summary("old-b-1", "b", project="old"), state="created"),
        replace(summary("older-a-1", "a", project="older"), state="dead"),
        replace(summary("by-hand", project=None), state=stopped),
        # A project label that compose did not set (no working_dir/config_files): cleanup leaves it.
        replace(summary("labelled", project="old"), state=stopped, working_dir=None, config_files=None),
        summary("web-1", "web", project="web"),
        summary("web-2", "web", project="web"),
        replace(summary("api-1", "api", project="api"), state="paused"),
        summary("registry", project=None),
    ]
    return ContainerCensus.of(containers, own_project="shop")


def test_the_census_sorts_the_other_containers_by_what_frees_them() -> None:
    census = census_of_an_engine()
    assert census.stopped_in_projects == (("old", 2), ("older", 1))
    assert census.stopped_elsewhere == 2
    assert census.running_in_projects == (("web", 2), ("api", 1))
    assert census.running_elsewhere == 1


def test_too_many_containers_gets_the_command_that_frees_each_kind() -> None:
    advice = count_advice(CountCheck("containers", 11, 2, 10), census_of_an_engine())
    assert advice.startswith(
        "Containers: 11 exist and the stack adds 2, above the maximum of 10 (DOCKER_MAX_CONTAINERS)."
    )
    assert (
        "3 are stopped in compose projects ('old' 2, 'older' 1): `dockermem cleanup --all-projects '*'`"
        in advice
    )
    assert "2 are stopped and not made by compose" in advice and "`docker container prune`" in advice
    assert "3 are running in compose projects ('web' 2, 'api' 1): `docker compose -p web down`" in advice
    assert "1 is running outside any compose project." in advice
    assert advice.endswith("Stop what no test needs, or raise DOCKER_MAX_CONTAINERS.")


def test_stopped_containers_of_one_project_get_its_own_cleanup_and_nothing_about_running_ones() -> None:
    census = ContainerCensus(stopped_in_projects=(("old", 4),))
    advice = count_advice(CountCheck("containers", 4, 1, 4), census)
    assert "4 are stopped in compose projects ('old' 4): `dockermem cleanup -p old` removes them" in advice
    assert "running" not in advice and "prune" not in advice and "raise" not in advice


def test_containers_of_many_projects_name_five_and_count_the_rest() -> None:
    census = ContainerCensus(running_in_projects=tuple((f"p{index}", 1) for index in range(8)))
    advice = count_advice(CountCheck("containers", 8, 1, 8), census)
    assert "('p0' 1, 'p1' 1, 'p2' 1, 'p3' 1, 'p4' 1 and 3 more projects)" in advice


def test_networks_and_volumes_get_the_cleanup_of_their_kind() -> None:
    networks = count_advice(CountCheck("networks", 15, 1, 15), ContainerCensus())
    volumes = count_advice(CountCheck("volumes", 10, 2, 10), ContainerCensus())
    assert "`dockermem cleanup --all-projects '*'` removes the networks of compose projects" in networks
    assert networks.endswith("or raise DOCKER_MAX_NETWORKS.")
    assert "`dockermem cleanup --all-projects '*' --volumes` removes the volumes" in volumes
    assert volumes.endswith("or raise DOCKER_MAX_VOLUMES.")
