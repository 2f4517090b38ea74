"""The engine-info cache: hits within the TTL, misses after it, one entry per engine (context,
endpoint, socket identity), a corrupt or unwritable file ignored, TTL 0 turning it off.

`docker` is a stand-in that prints a recorded `docker info` (and `docker version`) and logs each
`docker info`, so that a hit shows as a call that did not happen."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from dockermem.clock import ManualClock, using_clock
from dockermem.config import Settings, load_settings
from dockermem.core.engine_cache import (
    ENGINE_CACHE_FILE,
    LOCAL_ENGINE_TTL_SECONDS,
    EngineKey,
    cached_engine_info,
    engine_key,
    read_cached_engine_info,
    write_cached_engine_info,
)
from dockermem.docker.client import DockerClient
from dockermem.docker.models import EngineInfo
from dockermem.docker.parse import parse_engine_info, parse_engine_version
from dockermem.docker.runner import DockerRunner, RunnerLimits
from tests.conftest import FIXTURES

INFO = FIXTURES / "info" / "engine-20.10.json"
VERSION = FIXTURES / "version" / "engine-20.10.json"
ENGINE = parse_engine_info(INFO.read_text()).with_version(parse_engine_version(VERSION.read_text()))
KEY = EngineKey("default", "unix:///run/test.sock", (1234, 1_700_000_000_000_000_000))
NOW = 1_800_000_000.0
TTL = 60.0


@pytest.fixture(autouse=True)
def clock() -> Iterator[ManualClock]:
    """The cache stamps and ages its entries by this clock, at NOW, not by the machine's."""
    with using_clock(ManualClock(datetime.fromtimestamp(NOW, UTC))) as clock:
        yield clock


def bind_socket(path: Path) -> socket.socket:
    """A unix socket file at `path` (bound, not listening: as a daemon's socket, for stat)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    return server


@pytest.fixture
def daemon_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """DOCKER_HOST on a socket file of the test's own (no docker config of the user's)."""
    path = tmp_path / "d.sock"
    server = bind_socket(path)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    yield path
    server.close()


@pytest.fixture
def info_calls(tmp_path: Path) -> Path:
    """The log of the stand-in docker's calls."""
    return tmp_path / "docker-calls.log"


def client(
    tmp_path: Path, info_calls: Path, context: str | None = None, version_fails: bool = False
) -> DockerClient:
    script = tmp_path / "docker"
    version = "echo 'Error response from daemon: busy' >&2; exit 1" if version_fails else f'cat "{VERSION}"'
    script.write_text(
        f'#!/bin/sh\ncase " $* " in *" version "*) {version}; exit ;; esac\n'
        f'echo "$*" >> "{info_calls}"\ncat "{INFO}"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    limits = RunnerLimits(binary=str(script), spacing_seconds=0.0, retries=0)
    return DockerClient(DockerRunner(limits, context=context))


def calls(info_calls: Path) -> list[str]:
    return info_calls.read_text().splitlines() if info_calls.exists() else []


def engine_of(docker: DockerClient, settings: Settings) -> EngineInfo:
    async def main() -> EngineInfo:
        return await cached_engine_info(docker, settings)

    return anyio.run(main)


def test_each_test_has_a_state_directory_of_its_own(tmp_path: Path) -> None:
    # tests/conftest.py points DOCKERMEM_STATE_DIR into tmp_path: no test sees another's cache.
    assert load_settings().state_path.is_relative_to(tmp_path)


REMOTE_KEY = EngineKey("remote", "tcp://10.0.0.2:2376", None)


@pytest.mark.parametrize("age", [59.9, 60.0, 3599.9])
def test_a_local_sockets_entry_lasts_an_hour(tmp_path: Path, age: float) -> None:
    # Its key holds the socket's identity, which a restarted daemon changes.
    write_cached_engine_info(tmp_path, KEY, ENGINE, NOW, TTL)
    assert read_cached_engine_info(tmp_path, KEY, TTL, NOW + age) == ENGINE


@pytest.mark.parametrize("age", [3600.0, 86400.0, -1.0], ids=["at-an-hour", "long-after", "from-the-future"])
def test_a_local_sockets_entry_misses_after_an_hour_or_when_the_clock_went_back(
    tmp_path: Path, age: float
) -> None:
    write_cached_engine_info(tmp_path, KEY, ENGINE, NOW, TTL)
    assert read_cached_engine_info(tmp_path, KEY, TTL, NOW + age) is None


def test_a_ttl_longer_than_an_hour_holds_for_a_local_socket_too(tmp_path: Path) -> None:
    write_cached_engine_info(tmp_path, KEY, ENGINE, NOW, 7200.0)
    assert read_cached_engine_info(tmp_path, KEY, 7200.0, NOW + 7199) == ENGINE
    assert read_cached_engine_info(tmp_path, KEY, 7200.0, NOW + 7200) is None


def test_a_remote_engines_entry_lasts_the_ttl(tmp_path: Path) -> None:
    # Nothing tells dockermem that a remote daemon restarted: the TTL alone bounds its entry.
    write_cached_engine_info(tmp_path, REMOTE_KEY, ENGINE, NOW, TTL)
    assert read_cached_engine_info(tmp_path, REMOTE_KEY, TTL, NOW + 59.9) == ENGINE
    assert read_cached_engine_info(tmp_path, REMOTE_KEY, TTL, NOW + 60) is None
    assert read_cached_engine_info(tmp_path, REMOTE_KEY, TTL, NOW - 1) is None


@pytest.mark.parametrize(
    "other",
    [replace(KEY, context="remote"), replace(KEY, host="unix:///run/other.sock")],
    ids=["other-context", "other-host"],
)
def test_each_engine_has_an_entry_of_its_own(tmp_path: Path, other: EngineKey) -> None:
    write_cached_engine_info(tmp_path, KEY, ENGINE, NOW, TTL)
    assert read_cached_engine_info(tmp_path, other, TTL, NOW + 1) is None
    bigger = replace(ENGINE, memory_total_bytes=ENGINE.memory_total_bytes * 2)
    write_cached_engine_info(tmp_path, other, bigger, NOW + 2, TTL)
    assert read_cached_engine_info(tmp_path, other, TTL, NOW + 3) == bigger
    assert read_cached_engine_info(tmp_path, KEY, TTL, NOW + 3) == ENGINE


@pytest.mark.parametrize(
    "identity",
    [(1235, 1_700_000_000_000_000_000), (1234, 1_700_000_000_000_000_001), None],
    ids=["other-inode", "other-mtime", "no-socket"],
)
def test_another_socket_identity_is_another_daemon(tmp_path: Path, identity: tuple[int, int] | None) -> None:
    restarted = replace(KEY, socket_identity=identity)
    write_cached_engine_info(tmp_path, KEY, ENGINE, NOW, TTL)
    assert read_cached_engine_info(tmp_path, restarted, TTL, NOW + 1) is None
    # The restarted daemon's entry takes the place of the old one's.
    write_cached_engine_info(tmp_path, restarted, ENGINE, NOW + 2, TTL)
    assert read_cached_engine_info(tmp_path, restarted, TTL, NOW + 3) == ENGINE
    assert read_cached_engine_info(tmp_path, KEY, TTL, NOW + 3) is None


def test_entries_past_their_lifetime_are_dropped_when_writing(tmp_path: Path) -> None:
    write_cached_engine_info(tmp_path, KEY, ENGINE, NOW, TTL)
    write_cached_engine_info(tmp_path, REMOTE_KEY, ENGINE, NOW, TTL)
    write_cached_engine_info(tmp_path, replace(KEY, context="other"), ENGINE, NOW + TTL + 1, TTL)
    entries = json.loads((tmp_path / ENGINE_CACHE_FILE).read_text())["entries"]
    assert list(entries) == [KEY.entry_name, "other unix:///run/test.sock"]
    write_cached_engine_info(tmp_path, replace(KEY, context="other"), ENGINE, NOW + 3600, TTL)
    entries = json.loads((tmp_path / ENGINE_CACHE_FILE).read_text())["entries"]
    assert list(entries) == ["other unix:///run/test.sock"]


def stored_entry() -> dict[str, object]:
    return {"stored_at": NOW, "socket_identity": list(KEY.socket_identity or ()), "engine": asdict(ENGINE)}


def engine_with(**changes: object) -> dict[str, object]:
    return {**stored_entry(), "engine": {**asdict(ENGINE), **changes}}


CORRUPT: dict[str, object] = {
    "not-json": "{ this is not json",
    "binary": b"\xff\xfe\x00garbage",
    "not-an-object": [1, 2, 3],
    "no-format": {"entries": {KEY.entry_name: stored_entry()}},
    "entries-a-list": {"format": 1, "entries": [stored_entry()]},
    "entry-a-string": {"format": 1, "entries": {KEY.entry_name: "x"}},
    "time-a-string": {"format": 1, "entries": {KEY.entry_name: {**stored_entry(), "stored_at": "now"}}},
    "time-a-bool": {"format": 1, "entries": {KEY.entry_name: {**stored_entry(), "stored_at": True}}},
    "identity-bad": {
        "format": 1,
        "entries": {KEY.entry_name: {**stored_entry(), "socket_identity": ["a", 1]}},
    },
    "identity-short": {
        "format": 1,
        "entries": {KEY.entry_name: {**stored_entry(), "socket_identity": [1234]}},
    },
    "memory-a-string": {"format": 1, "entries": {KEY.entry_name: engine_with(memory_total_bytes="16GiB")}},
    "memory-zero": {"format": 1, "entries": {KEY.entry_name: engine_with(memory_total_bytes=0)}},
    "memory-a-float": {"format": 1, "entries": {KEY.entry_name: engine_with(memory_total_bytes=1.5e9)}},
    "cpus-a-bool": {"format": 1, "entries": {KEY.entry_name: engine_with(cpus=True)}},
    "cpus-negative": {"format": 1, "entries": {KEY.entry_name: engine_with(cpus=-2)}},
    "version-a-number": {"format": 1, "entries": {KEY.entry_name: engine_with(server_version=20.10)}},
    "cgroup-a-number": {"format": 1, "entries": {KEY.entry_name: engine_with(cgroup_version=2)}},
    "field-missing": {
        "format": 1,
        "entries": {KEY.entry_name: {**stored_entry(), "engine": {"memory_total_bytes": 1}}},
    },
    "field-extra": {"format": 1, "entries": {KEY.entry_name: engine_with(containers_running=3)}},
}


def write_raw(state_dir: Path, content: object) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / ENGINE_CACHE_FILE
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content))


def test_the_well_formed_entry_of_the_corrupt_cases_is_a_hit(tmp_path: Path) -> None:
    # So that each corrupt case below misses because of what it breaks, nothing else.
    write_raw(tmp_path, {"format": 1, "entries": {KEY.entry_name: stored_entry()}})
    assert read_cached_engine_info(tmp_path, KEY, TTL, NOW + 1) == ENGINE


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_a_corrupt_entry_is_ignored_and_docker_is_asked(
    case: str, tmp_path: Path, info_calls: Path, daemon_socket: Path
) -> None:
    write_raw(tmp_path, {"format": 1, "entries": {KEY.entry_name: stored_entry()}})
    write_raw(tmp_path, CORRUPT[case])
    assert read_cached_engine_info(tmp_path, KEY, TTL, NOW + 1) is None
    settings = Settings(state_dir=str(tmp_path))
    assert engine_of(client(tmp_path, info_calls), settings) == ENGINE
    assert len(calls(info_calls)) == 1
    assert engine_of(client(tmp_path, info_calls), settings) == ENGINE  # rewritten: a hit now
    assert len(calls(info_calls)) == 1


def test_second_call_within_the_ttl_does_not_ask_docker(
    tmp_path: Path, info_calls: Path, daemon_socket: Path
) -> None:
    settings = Settings(state_dir=str(tmp_path / "state"))
    assert engine_of(client(tmp_path, info_calls), settings) == ENGINE
    assert engine_of(client(tmp_path, info_calls), settings) == ENGINE
    assert calls(info_calls) == ["info --format {{json .}}"]


def test_an_info_without_its_version_is_not_kept(
    tmp_path: Path, info_calls: Path, daemon_socket: Path
) -> None:
    # `docker version` failed: the engine is taken for Docker for this command only, and the
    # next one asks again (a Podman engine must not stay "Docker" for the cache's lifetime).
    settings = Settings(state_dir=str(tmp_path / "state"))
    assert engine_of(client(tmp_path, info_calls, version_fails=True), settings).api_version == ""
    assert engine_of(client(tmp_path, info_calls), settings) == ENGINE
    assert engine_of(client(tmp_path, info_calls), settings) == ENGINE
    assert len(calls(info_calls)) == 2


def test_a_call_once_the_entry_has_lapsed_asks_docker_again(
    tmp_path: Path, info_calls: Path, daemon_socket: Path, clock: ManualClock
) -> None:
    settings = Settings(state_dir=str(tmp_path / "state"))
    engine_of(client(tmp_path, info_calls), settings)
    clock.advance(LOCAL_ENGINE_TTL_SECONDS - 1)
    engine_of(client(tmp_path, info_calls), settings)
    assert len(calls(info_calls)) == 1
    clock.advance(1)
    engine_of(client(tmp_path, info_calls), settings)
    assert len(calls(info_calls)) == 2


def test_ttl_zero_turns_the_cache_off(tmp_path: Path, info_calls: Path, daemon_socket: Path) -> None:
    settings = Settings(state_dir=str(tmp_path / "state"), engine_info_ttl_seconds=0)
    for _ in range(3):
        assert engine_of(client(tmp_path, info_calls), settings) == ENGINE
    assert len(calls(info_calls)) == 3
    assert not (tmp_path / "state" / ENGINE_CACHE_FILE).exists()


def test_ttl_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().engine_info_ttl_seconds == 60
    monkeypatch.setenv("DOCKERMEM_ENGINE_INFO_TTL_SECONDS", "0")
    assert load_settings().engine_info_ttl_seconds == 0


def test_a_restarted_daemon_invalidates_the_entry_at_once(
    tmp_path: Path, info_calls: Path, daemon_socket: Path
) -> None:
    settings = Settings(state_dir=str(tmp_path / "state"))
    engine_of(client(tmp_path, info_calls), settings)
    # A new daemon binds a new socket file in the old one's place.
    replacement = bind_socket(tmp_path / "new.sock")
    try:
        os.replace(tmp_path / "new.sock", daemon_socket)
        engine_of(client(tmp_path, info_calls), settings)
        assert len(calls(info_calls)) == 2
        engine_of(client(tmp_path, info_calls), settings)
        assert len(calls(info_calls)) == 2
    finally:
        replacement.close()


def test_another_context_has_its_own_entry(
    tmp_path: Path, info_calls: Path, daemon_socket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_context(tmp_path / "docker-config", "second", "tcp://192.0.2.1:2376")
    settings = Settings(state_dir=str(tmp_path / "state"))
    engine_of(client(tmp_path, info_calls), settings)
    engine_of(client(tmp_path, info_calls, context="second"), settings)
    assert calls(info_calls) == ["info --format {{json .}}", "--context second info --format {{json .}}"]
    engine_of(client(tmp_path, info_calls, context="second"), settings)
    engine_of(client(tmp_path, info_calls), settings)
    assert len(calls(info_calls)) == 2


def test_an_unwritable_state_directory_does_not_fail(
    tmp_path: Path, info_calls: Path, daemon_socket: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings = Settings(state_dir=str(blocker / "state"))
    assert engine_of(client(tmp_path, info_calls), settings) == ENGINE
    assert engine_of(client(tmp_path, info_calls), settings) == ENGINE
    assert len(calls(info_calls)) == 2


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: object, target: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(os, "replace", refuse)
    write_cached_engine_info(tmp_path, KEY, ENGINE, NOW, TTL)
    assert list(tmp_path.iterdir()) == []


def add_context(config_dir: Path, name: str, host: str) -> None:
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    document = {"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}
    (meta / "meta.json").write_text(json.dumps(document))


def test_engine_key_follows_the_docker_clis_choice_of_context(tmp_path: Path) -> None:
    config = tmp_path / "docker-config"
    add_context(config, "remote", "ssh://ci@build-host")
    add_context(config, "current", "tcp://192.0.2.7:2375")
    config.joinpath("config.json").write_text(json.dumps({"currentContext": "current"}))
    server = bind_socket(tmp_path / "d.sock")
    try:
        local = f"unix://{tmp_path / 'd.sock'}"
        status = os.stat(tmp_path / "d.sock")
        identity = (status.st_ino, status.st_mtime_ns)
        base = {"DOCKER_CONFIG": str(config)}
        # --context first, then DOCKER_HOST, then DOCKER_CONTEXT, then the config file.
        everything = {**base, "DOCKER_HOST": local, "DOCKER_CONTEXT": "current"}
        assert engine_key("remote", everything) == EngineKey("remote", "ssh://ci@build-host", None)
        assert engine_key(None, everything) == EngineKey("default", local, identity)
        assert engine_key(None, {**base, "DOCKER_CONTEXT": "remote"}) == EngineKey(
            "remote", "ssh://ci@build-host", None
        )
        assert engine_key(None, base) == EngineKey("current", "tcp://192.0.2.7:2375", None)
        # Nothing set: the default context on docker's own socket (None where there is none).
        default = engine_key(None, {"DOCKER_CONFIG": str(tmp_path / "none")})
        assert default is None or (default.context, default.host) == (
            "default",
            "unix:///var/run/docker.sock",
        )
    finally:
        server.close()


def test_no_key_when_the_engine_cannot_be_told(tmp_path: Path) -> None:
    base = {"DOCKER_CONFIG": str(tmp_path / "docker-config")}
    assert engine_key("no-such-context", base) is None
    assert engine_key(None, {**base, "DOCKER_HOST": f"unix://{tmp_path / 'gone.sock'}"}) is None
    (tmp_path / "docker-config").mkdir()
    (tmp_path / "docker-config" / "config.json").write_text("{ corrupt")
    assert engine_key(None, {**base, "DOCKER_CONTEXT": "no-such-context"}) is None


def test_an_entry_from_before_the_engines_kind_was_kept_is_asked_again(tmp_path: Path) -> None:
    # What the cache held before `docker version` told Docker from Podman: taken for Docker, a
    # Podman engine would be judged by Docker's ways until the entry aged; so it is a miss.
    engine = {
        "name": "vm",
        "server_version": "20.10.24+dfsg1",
        "operating_system": "Debian GNU/Linux 12 (bookworm)",
        "memory_total_bytes": 25276514304,
        "cpus": 2,
        "cgroup_version": "1",
        "cgroup_driver": "cgroupfs",
    }
    entry = {"stored_at": NOW, "socket_identity": list(KEY.socket_identity or ()), "engine": engine}
    write_raw(tmp_path, {"format": 1, "entries": {KEY.entry_name: entry}})
    assert read_cached_engine_info(tmp_path, KEY, TTL, NOW + 1) is None
    entry["engine"] = {**engine, "kind": "podman", "api_version": "1.41"}
    write_raw(tmp_path, {"format": 1, "entries": {KEY.entry_name: entry}})
    cached = read_cached_engine_info(tmp_path, KEY, TTL, NOW + 1)
    assert cached is not None and cached.kind == "podman" and cached.stats_include_cache
    entry["engine"] = {**engine, "kind": "rkt", "api_version": "1.41"}
    write_raw(tmp_path, {"format": 1, "entries": {KEY.entry_name: entry}})
    assert read_cached_engine_info(tmp_path, KEY, TTL, NOW + 1) is None
