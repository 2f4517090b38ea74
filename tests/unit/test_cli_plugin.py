"""`docker-mem` as the docker CLI runs it: the global flags it is given before `mem`, the
environment they make for dockermem's docker calls, and the link `install-plugin` makes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dockermem.core.cli_plugin import link_plugin
from dockermem.docker.cli_plugin import PluginCall, parse_plugin_call, plugin_directory, plugin_environment
from dockermem.errors import ConfigError


@pytest.mark.parametrize(
    ("argv", "flags", "arguments"),
    [
        (["mem"], (), ()),
        (["mem", "stats", "--json"], (), ("stats", "--json")),
        (["--context", "ci", "mem", "up", "-p", "mem"], (("--context", "ci"),), ("up", "-p", "mem")),
        (["-c", "ci", "-D", "mem", "health"], (("--context", "ci"), ("--debug", "true")), ("health",)),
        (
            ["--context=ci", "-Hunix:///s.sock", "mem"],
            (("--context", "ci"), ("--host", "unix:///s.sock")),
            (),
        ),
        (
            ["--tlsverify=false", "--log-level", "debug", "mem"],
            (("--tlsverify", "false"), ("--log-level", "debug")),
            (),
        ),
    ],
)
def test_global_flags_come_before_mem(
    argv: list[str], flags: tuple[tuple[str, str], ...], arguments: tuple[str, ...]
) -> None:
    assert parse_plugin_call(argv) == PluginCall(flags, arguments)


@pytest.mark.parametrize("argv", [[], ["stats"], ["--context"], ["--unknown", "mem"]])
def test_a_run_not_by_the_cli_is_refused(argv: list[str]) -> None:
    with pytest.raises(ConfigError):
        parse_plugin_call(argv)


def environment_for(argv: list[str], environ: dict[str, str]) -> dict[str, str]:
    return plugin_environment(parse_plugin_call(argv), environ)


def test_the_context_flag_beats_the_environment_s_host() -> None:
    environ = {"DOCKER_HOST": "tcp://elsewhere:2375", "DOCKER_CLI_PLUGIN_SOCKET": "@x", "HOME": "/home/u"}
    environment = environ | {"DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND": "docker"}
    assert environment_for(["--context", "ci", "mem"], environment) == {
        "DOCKER_CONTEXT": "ci",
        "HOME": "/home/u",
    }


def test_host_config_and_tls_flags_become_variables() -> None:
    environ = {"DOCKER_CONTEXT": "ci", "DOCKER_TLS_VERIFY": "1"}
    argv = ["-H", "tcp://h:2376", "--config", "/cfg", "--tls", "--tlsverify=false", "mem"]
    assert environment_for(argv, environ) == {
        "DOCKER_HOST": "tcp://h:2376",
        "DOCKER_CONFIG": "/cfg",
        "DOCKER_TLS": "1",
    }
    assert environment_for(["mem"], environ) == environ


def test_certificate_files_are_refused_with_the_way_that_works() -> None:
    with pytest.raises(ConfigError, match="DOCKER_CERT_PATH"):
        environment_for(["--tlscacert", "/ca.pem", "mem"], {})


def test_the_plugin_directory_follows_docker_config() -> None:
    assert plugin_directory({"DOCKER_CONFIG": "/cfg"}) == Path("/cfg/cli-plugins")
    assert plugin_directory({}) == Path.home() / ".docker" / "cli-plugins"


def test_link_is_made_once_replaced_when_stale_and_a_file_is_left_alone(tmp_path: Path) -> None:
    script, other = tmp_path / "bin" / "docker-mem", tmp_path / "old" / "docker-mem"
    plugins = tmp_path / "config" / "cli-plugins"
    made = link_plugin(script, plugins)
    assert (made.link, made.changed, made.link.readlink()) == (plugins / "docker-mem", True, script)
    assert not link_plugin(script, plugins).changed
    made.link.unlink()
    made.link.symlink_to(other)
    assert link_plugin(script, plugins).changed and made.link.readlink() == script
    made.link.unlink()
    made.link.write_text("#!/bin/sh\n")
    with pytest.raises(ConfigError, match="not a link"):
        link_plugin(script, plugins)
    assert made.link.read_text() == "#!/bin/sh\n"


def test_the_metadata_handshake() -> None:
    from dockermem import __version__

    done = subprocess.run(
        [sys.executable, "-c", "from dockermem.cli.plugin import main; main()", "docker-cli-plugin-metadata"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == {
        "SchemaVersion": "0.1.0",
        "Vendor": "dockermem",
        "Version": __version__,
        "ShortDescription": "Memory safety for docker compose test stacks (dockermem)",
    }
