from __future__ import annotations

from pathlib import Path

import pytest

from dockermem.config import GIB, load_settings
from dockermem.errors import ConfigError


def test_defaults_are_the_designs() -> None:
    settings = load_settings(environ={})
    assert settings.max_memory_gb == 8.0
    assert (settings.max_containers, settings.max_networks, settings.max_volumes) == (20, 15, 10)
    assert (settings.warning_percent, settings.critical_percent, settings.emergency_percent) == (50, 75, 90)
    assert settings.profiles_gb["standard"] == 3.6


def test_flags_beat_environment_beat_file(tmp_path: Path) -> None:
    (tmp_path / "dockermem.yaml").write_text("max_containers: 30\nmax_networks: 7\nmax_volumes: 3\n")
    settings = load_settings(
        flags={"max_containers": 50},
        environ={"DOCKER_MAX_CONTAINERS": "40", "DOCKER_MAX_NETWORKS": "9"},
        cwd=tmp_path,
    )
    assert settings.max_containers == 50
    assert settings.max_networks == 9
    assert settings.max_volumes == 3


def test_pyproject_table_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.dockermem]\nmax-memory-gb = 2.5\n")
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.max_memory_bytes == int(2.5 * GIB)


@pytest.mark.parametrize(
    "text",
    ['[tool]\ndockermem = { max-memory-gb = 2.5 }\n', '[tool.dockermem]\n"max-memory-gb" = 2.5\n',
     'tool.dockermem.max-memory-gb = 2.5\n'],
)  # fmt: skip
def test_every_spelling_of_the_pyproject_table_is_read(tmp_path: Path, text: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    assert load_settings(environ={}, cwd=tmp_path).max_memory_bytes == int(2.5 * GIB)


def test_a_pyproject_without_the_table_is_not_parsed_even_when_broken(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname = 'other'\n")  # broken, and not ours
    assert (
        load_settings(environ={}, cwd=tmp_path).max_memory_bytes == load_settings(environ={}).max_memory_bytes
    )


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", "0", ""])
def test_bad_memory_value_names_variable_and_value(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"DOCKER_MAX_MEMORY_GB": value})
    assert "DOCKER_MAX_MEMORY_GB" in str(caught.value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize("value", ["1.5", "x", "-3", "0"])
def test_bad_count_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="DOCKER_MAX_CONTAINERS"):
        load_settings(environ={"DOCKER_MAX_CONTAINERS": value})


def test_thresholds_out_of_order_are_refused() -> None:
    with pytest.raises(ConfigError, match="out of order"):
        load_settings(environ={"DOCKERMEM_WARNING_PERCENT": "80", "DOCKERMEM_CRITICAL_PERCENT": "70"})


def test_unknown_file_setting_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dockermem.yaml").write_text("max_memroy_gb: 3\n")
    with pytest.raises(ConfigError, match="unknown setting 'max_memroy_gb'"):
        load_settings(environ={}, cwd=tmp_path)


def test_profiles_from_file_override_defaults(tmp_path: Path) -> None:
    (tmp_path / "dockermem.yaml").write_text("profiles_gb:\n  standard: 2.0\n  tiny: 0.3\n")
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.profiles_gb["standard"] == 2.0
    assert settings.profiles_gb["tiny"] == 0.3
    assert settings.profiles_gb["full"] == 6.1


def test_broken_yaml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "dockermem.yaml").write_text("max_containers: [\n")
    with pytest.raises(ConfigError, match="dockermem.yaml"):
        load_settings(environ={}, cwd=tmp_path)
