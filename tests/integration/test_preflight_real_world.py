"""`preflight` on compose files in the style of those real projects publish (Sentry, Airflow,
Sourcegraph and others: tests/README's corpus): external resources, compose profiles beside
named memory profiles, estimates that say what they are, errors that lead with their cause,
text that reads at 80 columns, and the compose features such files use."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.integration.realdocker import cli_env, dockermem

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]
GIB = 1024**3
MIB = 1024**2


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def preflight_json(*args: str, **env: str) -> tuple[int, dict[str, Any]]:
    result = dockermem("preflight", "--json", *args, env=cli_env(**env))
    return result.returncode, json.loads(result.stdout)


def service(name: str, extra: str = "", isolated: bool = True) -> str:
    """A service of the test image; `isolated`: with no network (preflight starts nothing either way)."""
    lines = [
        f"  {name}:",
        "    image: dockermem/memhog:test",
        *(["    network_mode: none"] if isolated else []),
    ]
    lines += [f"    {line}" for line in textwrap.dedent(extra).strip().splitlines()]
    return "\n".join(lines) + "\n"


def test_external_volumes_and_networks_are_not_counted_as_added(tmp_path: Path) -> None:
    # As Sentry does: six volumes the user creates first (`external: true`) beside the stack's own.
    compose = (
        "services:\n"
        + service("web", "mem_limit: 64m\nnetworks: [front, outside]\nvolumes: [data:/data]", isolated=False)
        + "networks:\n  front: {}\n  outside:\n    external: true\n"
        + "volumes:\n  data: {}\n"
        + "".join(f"  shared-{index}:\n    external: true\n" for index in range(6))
    )
    code, document = preflight_json("-f", str(write(tmp_path, "compose.yaml", compose)))
    assert code == 0, document
    assert document["counts"]["volumes"]["adding"] == 1  # data; the six external ones exist already
    assert document["counts"]["networks"]["adding"] == 1  # front


def test_profile_means_composes_profile(tmp_path: Path) -> None:
    # As Airflow's `flower`: a service enabled only with its compose profile.
    compose = (
        "services:\n"
        + service("api", "mem_limit: 64m")
        + service("flower", "mem_limit: 128m\nprofiles: [flower]")
    )
    path = write(tmp_path, "compose.yaml", compose)
    _, without = preflight_json("-f", str(path))
    code, with_flower = preflight_json("-f", str(path), "--profile", "flower")
    assert [s["name"] for s in without["services"]] == ["api"]
    assert code == 0 and [s["name"] for s in with_flower["services"]] == ["api", "flower"]
    assert (with_flower["required_bytes"], with_flower["compose_profiles"]) == (192 * MIB, ["flower"])


def test_a_memory_profile_name_given_to_profile_says_which_option_was_meant(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yaml", "services:\n" + service("api", "mem_limit: 64m"))
    result = dockermem("preflight", "-f", str(path), "--profile", "standard", env=cli_env())
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dockermem: --profile standard: the compose files declare no profile 'standard' (--profile enables "
        "compose's profiles); for the memory profile, use --memory-profile standard"
    ]


def test_the_compose_profiles_that_fit_are_recommended_when_the_stack_does_not(tmp_path: Path) -> None:
    # COMPOSE_PROFILES=full from the project's .env, as Sentry's; `lite` is the smaller stack.
    compose = (
        "services:\n"
        + service("core", "mem_limit: 256m")
        + service("search", "mem_limit: 3g\nprofiles: [full]")
        + service("cache", "mem_limit: 256m\nprofiles: [lite, full]")
    )
    path = write(tmp_path, "compose.yaml", compose)
    write(tmp_path, ".env", "COMPOSE_PROFILES=full\n")
    code, document = preflight_json("-f", str(path), DOCKER_MAX_MEMORY_GB="2")
    assert code == 1 and document["required_bytes"] == 3 * GIB + 512 * MIB
    fitting = [line for line in document["recommendations"] if line.endswith("and fits.")]
    assert fitting == [
        "COMPOSE_PROFILES=lite needs 512MiB and fits.",
        "Without compose profiles (COMPOSE_PROFILES empty), the stack needs 256MiB and fits.",
    ]


def test_each_figure_says_how_it_was_had_and_a_mostly_guessed_need_says_so(tmp_path: Path) -> None:
    compose = (
        "services:\n"
        + service("db", "mem_limit: 256m")
        + "".join(service(name) for name in ("api", "worker", "search"))
    )
    code, document = preflight_json("-f", str(write(tmp_path, "compose.yaml", compose)))
    estimates = {s["name"]: (s["estimate"], s["recorded_runs"]) for s in document["services"]}
    guessed = ("default", None)
    assert estimates == {"db": ("declared", None), "api": guessed, "worker": guessed, "search": guessed}
    assert document["guessed_bytes"] == 3 * 512 * MIB
    assert any(line.startswith("More than half of the need (1.50GiB of 1.75GiB) is a default guess")
               for line in document["recommendations"])  # fmt: skip
    text = dockermem("preflight", "-f", str(tmp_path / "compose.yaml"), env=cli_env(COLUMNS="200")).stdout
    assert "256MiB declared" in text and "512MiB default guess" in text


def test_a_failed_read_leads_with_composes_error_and_gives_json_under_json(tmp_path: Path) -> None:
    # Airflow's quick start without the .env it tells the user to create: compose warns about
    # AIRFLOW_UID for every service, then fails on the missing env file.
    compose = "services:\n" + "".join(
        service(name, "user: ${AIRFLOW_UID}\nenv_file: [.env]\nmem_limit: 64m")
        for name in ("a", "b", "c", "d", "e")
    )
    path = write(tmp_path, "compose.yaml", compose)
    result = dockermem("preflight", "--json", "-f", str(path), env=cli_env())
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("dockermem: compose rejected the file: env file ") and "AIRFLOW_UID" not in line
    assert json.loads(result.stdout) == {"schema": 1, "ok": False, "error": line.removeprefix("dockermem: "),
                                         "exit_code": 2}  # fmt: skip
    verbose = dockermem("preflight", "-v", "-f", str(path), env=cli_env())
    assert verbose.stderr.startswith(line) and 'The \\"AIRFLOW_UID\\" variable is not set' in verbose.stderr


def test_the_text_reads_at_80_columns(tmp_path: Path) -> None:
    # Sentry's shape: many services without a limit, and more containers than the maximum.
    compose = "services:\n" + "".join(service(f"consumer-{index:02}") for index in range(30))
    path = write(tmp_path, "compose.yaml", compose)
    result = dockermem("preflight", "-f", str(path), env=cli_env(COLUMNS="80", DOCKER_MAX_CONTAINERS="10"))
    lines = result.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    start = next(i for i, line in enumerate(lines) if "No memory limit on 30 services" in line)
    # A bullet's wrapped lines hang under its text, and the list names five, then a count.
    assert lines[start].startswith("  • No memory limit on 30 services: consumer-00 (512MiB, default")
    bullet = " ".join(line.strip() for line in lines[start : start + 4])
    assert "and 25 more." in bullet and all(line.startswith("    ") for line in lines[start + 1 : start + 3])


def test_include_scale_zero_and_env_file(tmp_path: Path) -> None:
    # `include:` of another file, a service scaled to 0 (counted at nothing, never named as
    # unbounded), and a limit from `--env-file`.
    write(tmp_path, "db.yaml", "services:\n" + service("db", "mem_limit: ${DB_LIMIT:-64m}"))
    compose = (
        "include:\n  - db.yaml\nservices:\n" + service("api", "mem_limit: 32m") + service("batch", "scale: 0")
    )
    path = write(tmp_path, "compose.yaml", compose)
    write(tmp_path, "ci.env", "DB_LIMIT=96m\n")
    code, document = preflight_json("-f", str(path), "--env-file", str(tmp_path / "ci.env"))
    assert code == 0, document
    counted = {s["name"]: (s["counted_bytes"], s["replicas"]) for s in document["services"]}
    assert counted == {"api": (32 * MIB, 1), "batch": (512 * MIB, 0), "db": (96 * MIB, 1)}
    assert document["required_bytes"] == 128 * MIB
    assert not any("No memory limit" in line for line in document["recommendations"])


def test_a_mem_limit_that_disagrees_with_deploy_is_composes_error(tmp_path: Path) -> None:
    compose = "services:\n" + service(
        "api", "mem_limit: 64m\ndeploy:\n  resources:\n    limits:\n      memory: 128m"
    )
    result = dockermem("preflight", "-f", str(write(tmp_path, "compose.yaml", compose)), env=cli_env())
    assert result.returncode == 2
    assert "can't set distinct values on 'mem_limit' and 'deploy.resources.limits.memory'" in result.stderr
