"""Settings: flags, then environment variables, then a config file, then defaults.

The environment variables of the design keep their names (`DOCKER_MAX_MEMORY_GB`,
`DOCKER_MAX_CONTAINERS`, `DOCKER_MAX_NETWORKS`, `DOCKER_MAX_VOLUMES`); every other setting
is `DOCKERMEM_<NAME>`. The config file is `dockermem.yaml` in the working directory (or the
path in `DOCKERMEM_CONFIG`), else `[tool.dockermem]` in `pyproject.toml`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dockermem.errors import ConfigError

GIB = 1024**3
GB = 1000**3

# The test profiles of the design, in GB as it gives them.
DEFAULT_PROFILES_GB: dict[str, float] = {
    "minimal": 1.4,
    "standard": 3.6,
    "full": 6.1,
    "performance": 13.3,
}


@dataclass(frozen=True)
class Settings:
    """Every tunable of dockermem, with the design's defaults."""

    max_memory_gb: float = 8.0
    max_containers: int = 20
    max_networks: int = 15
    max_volumes: int = 10
    warning_percent: float = 50.0
    critical_percent: float = 75.0
    emergency_percent: float = 90.0
    high_memory_percent: float = 80.0
    docker_binary: str = "docker"
    docker_concurrency: int = 6
    docker_spacing_seconds: float = 0.005
    docker_timeout_seconds: float = 30.0
    docker_retries: int = 2
    compose_direct: bool = True
    ready_on_events: bool = True  # `up` returns when the engine's events show the stack ready
    state_dir: str = ""
    engine_info_ttl_seconds: float = 60.0  # a remote engine's (a local socket's: 1 h at least); 0: no cache
    safety_margin_gb: float = 0.5
    unbounded_service_gb: float = 0.5
    sample_interval_seconds: float = 2.0
    fast_path: bool = True
    leak_window_seconds: float = 300.0
    leak_min_r_squared: float = 0.9
    leak_min_mib_per_minute: float = 1.0
    leak_min_span_seconds: float = 60.0
    leak_urgent_seconds: float = 120.0
    alert_webhook: str = field(default="", repr=False)  # a secret: never printed
    alert_interval_seconds: float = 300.0
    history: bool = True
    history_file: str = ""
    autoscale_calm_seconds: float = 30.0
    autoscale_min_interval_seconds: float = 20.0
    proc_root: str = "/proc"
    cgroup_root: str = "/sys/fs/cgroup"
    kernel_log: str = "/dev/kmsg"  # where `up` and `watch` read the kernel's OOM kills; "": not read
    profiles_gb: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PROFILES_GB))

    @property
    def max_memory_bytes(self) -> int:
        return int(self.max_memory_gb * GIB)

    @property
    def state_path(self) -> Path:
        """Where dockermem keeps what persists between runs (the cleanup counters)."""
        if self.state_dir:
            return Path(self.state_dir)
        data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(data_home) / "dockermem"

    @property
    def history_path(self) -> Path:
        """The SQLite file that `watch` and `up` record into and `report` reads."""
        return Path(self.history_file) if self.history_file else self.state_path / "history.sqlite3"


# Variables whose names the design fixed; the rest are DOCKERMEM_<FIELD>.
LEGACY_ENVIRONMENT_NAMES = {
    "max_memory_gb": "DOCKER_MAX_MEMORY_GB",
    "max_containers": "DOCKER_MAX_CONTAINERS",
    "max_networks": "DOCKER_MAX_NETWORKS",
    "max_volumes": "DOCKER_MAX_VOLUMES",
}


def environment_name(setting: str) -> str:
    """The environment variable that sets one setting."""
    return LEGACY_ENVIRONMENT_NAMES.get(setting, f"DOCKERMEM_{setting.upper()}")


def _positive_float(source: str, raw: object) -> float:
    value = _finite_float(source, raw)
    if value <= 0:
        raise ConfigError(f"{source}={raw!r} must be greater than 0")
    return value


def _finite_float(source: str, raw: object) -> float:
    if isinstance(raw, bool):
        raise ConfigError(f"{source}={raw!r} is not a number")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{source}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{source}={raw!r} is not a finite number")
    return value


def _non_negative_float(source: str, raw: object) -> float:
    value = _finite_float(source, raw)
    if value < 0:
        raise ConfigError(f"{source}={raw!r} must not be negative")
    return value


def _percent(source: str, raw: object) -> float:
    value = _finite_float(source, raw)
    if not 0 < value <= 100:
        raise ConfigError(f"{source}={raw!r} must be a percentage above 0 and at most 100")
    return value


def _count(source: str, raw: object, minimum: int) -> int:
    if isinstance(raw, bool):
        raise ConfigError(f"{source}={raw!r} is not a whole number")
    if isinstance(raw, int):
        value = raw
    else:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ConfigError(f"{source}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{source}={raw!r} must be at least {minimum}")
    return value


def _positive_count(source: str, raw: object) -> int:
    return _count(source, raw, 1)


def _non_negative_count(source: str, raw: object) -> int:
    return _count(source, raw, 0)


def _text(source: str, raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{source}={raw!r} must be a non-empty string")
    return raw


def _path_or_off(source: str, raw: object) -> str:
    # A file to read, or one of the words that turn the reading off ("" in the settings).
    if isinstance(raw, bool) and not raw:
        return ""
    if not isinstance(raw, str):
        raise ConfigError(f"{source}={raw!r} must be a path, or 0 to turn it off")
    return "" if raw.strip().lower() in ("", "0", "off", "false", "no") else raw


def _secret_url(source: str, raw: object) -> str:
    # The value is a secret (a webhook URL holds its token): the error never repeats it.
    from urllib.parse import urlsplit

    parts = urlsplit(str(raw))
    if not isinstance(raw, str) or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{source} must be an http:// or https:// URL with a host")
    return raw


def _fraction(source: str, raw: object) -> float:
    value = _finite_float(source, raw)
    if not 0 <= value <= 1:
        raise ConfigError(f"{source}={raw!r} must be between 0 and 1")
    return value


def _flag(source: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{source}={raw!r} must be true or false (1/0)")


def _profiles(source: str, raw: object) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source} must map profile names to sizes in GB")
    profiles = dict(DEFAULT_PROFILES_GB)
    for name, size in raw.items():
        profiles[str(name)] = _positive_float(f"{source}.{name}", size)
    return profiles


Converter = Callable[[str, object], Any]

CONVERTERS: dict[str, Converter] = {
    "max_memory_gb": _positive_float,
    "max_containers": _positive_count,
    "max_networks": _positive_count,
    "max_volumes": _positive_count,
    "warning_percent": _percent,
    "critical_percent": _percent,
    "emergency_percent": _percent,
    "high_memory_percent": _percent,
    "docker_binary": _text,
    "docker_concurrency": _positive_count,
    "docker_spacing_seconds": _non_negative_float,
    "docker_timeout_seconds": _positive_float,
    "docker_retries": _non_negative_count,
    "compose_direct": _flag,
    "ready_on_events": _flag,
    "state_dir": _text,
    "engine_info_ttl_seconds": _non_negative_float,
    "safety_margin_gb": _non_negative_float,
    "unbounded_service_gb": _non_negative_float,
    "sample_interval_seconds": _positive_float,
    "profiles_gb": _profiles,
    "fast_path": _flag,
    "leak_window_seconds": _positive_float,
    "leak_min_r_squared": _fraction,
    "leak_min_mib_per_minute": _non_negative_float,
    "leak_min_span_seconds": _non_negative_float,
    "leak_urgent_seconds": _non_negative_float,
    "alert_webhook": _secret_url,
    "alert_interval_seconds": _non_negative_float,
    "history": _flag,
    "history_file": _text,
    "autoscale_calm_seconds": _non_negative_float,
    "autoscale_min_interval_seconds": _non_negative_float,
    "proc_root": _text,
    "cgroup_root": _text,
    "kernel_log": _path_or_off,
}


def find_config_file(cwd: Path) -> tuple[Path, dict[str, object]] | None:
    """The config file in force, and its dockermem table, if there is one."""
    explicit = os.environ.get("DOCKERMEM_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"DOCKERMEM_CONFIG={explicit!r} names no file")
        return path, _read_yaml(path)
    yaml_path = cwd / "dockermem.yaml"
    if yaml_path.is_file():
        return yaml_path, _read_yaml(yaml_path)
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        try:
            text = pyproject.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError(f"{pyproject}: {error}") from None
        if "dockermem" not in text:  # no [tool.dockermem] table, in any spelling: no parse
            return None
        import tomllib  # only a pyproject.toml that may hold the table needs it

        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{pyproject}: {error}") from None
        table = document.get("tool", {}).get("dockermem")
        if isinstance(table, dict):
            return pyproject, table
    return None


def _read_yaml(path: Path) -> dict[str, object]:
    import yaml  # only a config file needs it

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: {str(error).splitlines()[0]}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the config file must be a mapping of settings")
    return document


def load_settings(
    flags: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Settings from flags, then environment, then config file, then defaults; validated."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}

    found = find_config_file(cwd or Path.cwd())
    if found is not None:
        path, table = found
        for key, raw in table.items():
            name = key.replace("-", "_")
            if name not in CONVERTERS:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[name] = CONVERTERS[name](f"{path}: {key}", raw)

    for setting in (f.name for f in fields(Settings)):
        variable = environment_name(setting)
        if setting != "profiles_gb" and variable in environ:
            values[setting] = CONVERTERS[setting](variable, environ[variable])

    for setting, raw in (flags or {}).items():
        if raw is not None:
            values[setting] = CONVERTERS[setting](f"--{setting.replace('_', '-')}", raw)

    settings = Settings(**values)  # type: ignore[arg-type]
    if not settings.warning_percent < settings.critical_percent < settings.emergency_percent:
        raise ConfigError(
            "thresholds out of order: warning "
            f"{settings.warning_percent:g} < critical {settings.critical_percent:g} "
            f"< emergency {settings.emergency_percent:g} must hold"
        )
    return settings
