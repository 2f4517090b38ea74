"""Which resources a cleanup may take: pure selection over listed containers and networks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockermem.core.cleanup import CleanupScope, select_containers, select_project_resources
from dockermem.docker.models import ContainerSummary, NamedResource

SWEEP = datetime(2026, 11, 26, 12, 0, 0, 500000, tzinfo=UTC)


def summary(
    name: str, project: str | None, state: str, age_seconds: float, compose: bool = True
) -> ContainerSummary:
    created = SWEEP.replace(microsecond=0) - timedelta(seconds=age_seconds)
    return ContainerSummary(
        id=f"{name}-id",
        name=name,
        image="img",
        state=state,
        status="",
        created_at=created,
        project=project,
        service="svc" if project else None,
        working_dir="/w" if compose and project else None,
        config_files="/w/compose.yaml" if compose and project else None,
    )


def test_only_stopped_compose_containers_in_scope_made_before_the_sweep() -> None:
    containers = [
        summary("old-exited", "app", "exited", 60),
        summary("old-created", "app", "created", 60),
        summary("running", "app", "running", 60),
        summary("other-project", "other", "exited", 60),
        summary("label-only", "app", "exited", 60, compose=False),
        summary("same-second", "app", "exited", 0),
        summary("after-sweep", "app", "exited", -2),
        summary("no-project", None, "exited", 60),
    ]
    chosen, kept = select_containers(containers, CleanupScope(project="app"), SWEEP, None)
    assert [c.name for c in chosen] == ["old-exited", "old-created"]
    assert any("label-only" in reason and "not made by compose" in reason for reason in kept)
    assert any("running: running" in reason for reason in kept)
    assert any("after-sweep: too recent" in reason for reason in kept)
    assert not any("other-project" in reason for reason in kept)


def test_older_than_and_glob_scope() -> None:
    containers = [summary("ci-1-old", "ci-1", "exited", 7200), summary("ci-2-new", "ci-2", "exited", 60)]
    chosen, _ = select_containers(containers, CleanupScope(project_glob="ci-*"), SWEEP, timedelta(hours=1))
    assert [c.name for c in chosen] == ["ci-1-old"]


def test_networks_of_busy_projects_stay() -> None:
    made = SWEEP - timedelta(minutes=5)
    networks = [
        NamedResource("app_default", "bridge", "app", "default", made),
        NamedResource("busy_default", "bridge", "busy", "default", made),
        NamedResource("hand_made", "bridge", "app", None, made),
    ]
    chosen, kept = select_project_resources(
        networks, "network", CleanupScope(project_glob="*"), {"busy"}, SWEEP, None
    )
    assert [n.name for n in chosen] == ["app_default"]
    assert len(kept) == 2


def test_the_command_that_removes_a_dry_run_s_plan_names_its_engine_and_program(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dockermem.cli.cleanup import _command_to_remove

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    assert _command_to_remove("dockermem", "shop", None, "2h", True) == (
        "dockermem cleanup -p shop --older-than 2h --volumes --yes"
    )
    monkeypatch.setenv("DOCKER_CONTEXT", "ci runner")  # as `docker --context 'ci runner' mem` passes it on
    assert _command_to_remove("docker mem", None, "test-*", None, False) == (
        "'DOCKER_CONTEXT=ci runner' docker mem cleanup --all-projects 'test-*' --yes"
    )
