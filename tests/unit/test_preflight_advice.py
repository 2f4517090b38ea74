"""The preflight's advice, worded for one and for many."""

from __future__ import annotations

from dataclasses import replace

from dockermem.config import Settings
from dockermem.core.preflight import (
    CountCheck,
    Holders,
    MemoryBudget,
    ProjectUsage,
    ResourceCensus,
    count_advice,
    recommendations,
    service_needs,
)
from dockermem.docker.models import NamedResource
from dockermem.docker.parse import parse_compose_config
from tests.builders import summary
from tests.conftest import FIXTURES

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


def census_of_an_engine() -> ResourceCensus:
    """An engine with the stack's own containers, stopped and running ones of other projects,
    containers compose did not make, and networks and volumes of each kind."""
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
        replace(summary("going", "api", project="api"), state="removing"),  # neither stopped nor running
        summary("registry", project=None),
    ]
    networks = [
        NamedResource("shop_default", "bridge", "shop", "default"),
        NamedResource("old_default", "bridge", "old", "default"),
        NamedResource("old_back", "bridge", "old", "back"),
        NamedResource("lab", "bridge", None),
        NamedResource("bridge", "bridge", None),  # docker's own: never counted
    ]
    volumes = [NamedResource("old_data", "local", "old", "data"), NamedResource("a1b2c3", "local", None)]
    return ResourceCensus.of(containers, networks, volumes, own_project="shop")


def test_the_census_sorts_what_else_there_is_by_what_frees_it() -> None:
    census = census_of_an_engine()
    assert census.stopped == Holders((("old", 2), ("older", 1)), elsewhere=2)
    assert census.running == Holders((("web", 2), ("api", 1)), elsewhere=1)
    assert census.networks == Holders((("old", 2),), elsewhere=1)
    assert census.volumes == Holders((("old", 1),), elsewhere=1)


def test_too_many_containers_gets_the_command_that_frees_each_kind() -> None:
    advice = count_advice(CountCheck("containers", 11, 2, 10), census_of_an_engine())
    said = "Containers: 11 exist and the stack adds 2, above the maximum of 10 (DOCKER_MAX_CONTAINERS)."
    assert advice.startswith(said)
    stopped = "3 are stopped in compose projects ('old' 2, 'older' 1): `dockermem cleanup --all-projects '*'`"
    assert stopped in advice
    assert "2 are stopped and not made by compose" in advice and "`docker container prune`" in advice
    assert "3 are running in compose projects ('web' 2, 'api' 1): `docker compose -p web down`" in advice
    assert "1 is running outside any compose project." in advice
    assert advice.endswith("Stop what no test needs, or raise DOCKER_MAX_CONTAINERS.")


def test_stopped_containers_of_one_project_get_its_own_cleanup_and_nothing_about_running_ones() -> None:
    census = ResourceCensus(stopped=Holders((("old", 4),)))
    advice = count_advice(CountCheck("containers", 4, 1, 4), census)
    assert "4 are stopped in compose projects ('old' 4): `dockermem cleanup -p old` removes them" in advice
    assert "running" not in advice and "prune" not in advice
    assert advice.endswith("Or raise DOCKER_MAX_CONTAINERS.")


def test_with_nothing_to_free_the_advice_is_to_raise_the_maximum() -> None:
    for kind in ("containers", "networks", "volumes"):
        advice = count_advice(CountCheck(kind, 0, 25, 20), ResourceCensus())
        assert advice.endswith(f" Raise DOCKER_MAX_{kind.upper()}."), advice


def test_containers_of_many_projects_name_five_and_count_the_rest() -> None:
    census = ResourceCensus(running=Holders(tuple((f"p{index}", 1) for index in range(8))))
    advice = count_advice(CountCheck("containers", 8, 1, 8), census)
    assert "('p0' 1, 'p1' 1, 'p2' 1, 'p3' 1, 'p4' 1 and 3 more projects)" in advice


def test_networks_and_volumes_get_the_cleanup_and_the_prune_of_their_kind() -> None:
    census = census_of_an_engine()
    networks = count_advice(CountCheck("networks", 3, 1, 3), census)
    volumes = count_advice(CountCheck("volumes", 2, 1, 2), census)
    assert networks == (
        "Networks: 3 exist and the stack adds 1, above the maximum of 3 (DOCKER_MAX_NETWORKS). "
        "2 belong to compose projects ('old' 2): `dockermem cleanup -p old` removes a project's stopped "
        "containers, then its networks once none of its containers is left (it lists them and asks "
        "first). 1 is not made by compose (`docker network prune` removes those no container uses). "
        "Or raise DOCKER_MAX_NETWORKS."
    )
    assert (
        "`dockermem cleanup -p old --volumes` removes a project's stopped containers, then its volumes "
        in volumes
    )
    assert "(named ones with their data)" in volumes and "`docker volume prune`" in volumes
    assert volumes.endswith("Or raise DOCKER_MAX_VOLUMES.")


def test_a_service_without_a_limit_counts_at_least_its_reservation() -> None:
    # Recorded: `search` reserves 2 GiB (mem_reservation), `cache` 64 MiB (deploy's reservation),
    # neither has a limit; `api` reserves 128 MiB under its 256 MiB limit.
    config = parse_compose_config((FIXTURES / "compose-config" / "reservations.json").read_text())
    needs = {need.name: need for need in service_needs(config, 512 * MIB)}
    assert (needs["search"].counted_bytes, needs["search"].counted_from) == (2048 * MIB, "reservation")
    assert (needs["search"].estimate, needs["search"].estimate_text) == ("declared", "declared reservation")
    assert (needs["cache"].counted_bytes, needs["cache"].counted_from) == (512 * MIB, "default")
    assert (needs["api"].counted_bytes, needs["api"].counted_from) == (256 * MIB, "limit")
