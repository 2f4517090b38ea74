"""dockermem as a docker CLI plugin (`docker mem ...`): the CLI's side of the contract.

The CLI finds `docker-mem` in `$DOCKER_CONFIG/cli-plugins` (default `~/.docker/cli-plugins`),
asks it `docker-mem docker-cli-plugin-metadata` for a JSON description (its `--help` lists the
plugin with the short description), and runs `docker mem ARGS` as `docker-mem [GLOBAL FLAGS]
mem ARGS`: its own global flags (`--context`, `-H`, `--config`, ...) come first, as the user gave
them, and the plugin must apply them itself (docker/cli: cli-plugins/manager, "plugin
candidates"; checked with the CLI 28.2 here). The environment gains
`DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND` and `DOCKER_CLI_PLUGIN_SOCKET`.

dockermem runs `docker` for everything, so the flags become the environment of those calls,
where the CLI reads them the same way: `--context` as DOCKER_CONTEXT (DOCKER_HOST, which would
win over it, is dropped), `-H` as DOCKER_HOST, `--config` as DOCKER_CONFIG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockermem.errors import ConfigError

PLUGIN_NAME = "mem"
METADATA_COMMAND = "docker-cli-plugin-metadata"
# Set by the CLI for the plugin it runs; a docker command dockermem runs is no plugin run.
PLUGIN_RUN_VARIABLES = ("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND", "DOCKER_CLI_PLUGIN_SOCKET")

# The docker CLI's global flags (`docker --help`, "Global Options"), by whether they take a value.
FLAGS_WITH_VALUE = {
    "-c": "--context",
    "--context": "--context",
    "-H": "--host",
    "--host": "--host",
    "--config": "--config",
    "-l": "--log-level",
    "--log-level": "--log-level",
    "--tlscacert": "--tlscacert",
    "--tlscert": "--tlscert",
    "--tlskey": "--tlskey",
}
BOOLEAN_FLAGS = {"-D": "--debug", "--debug": "--debug", "--tls": "--tls", "--tlsverify": "--tlsverify"}
# Certificate files have no variable of their own: only DOCKER_CERT_PATH, a directory.
NOT_PASSED_ON = ("--tlscacert", "--tlscert", "--tlskey")


def plugin_metadata(version: str) -> dict[str, str]:
    """What `docker-mem docker-cli-plugin-metadata` prints, as JSON."""
    return {
        "SchemaVersion": "0.1.0",
        "Vendor": "dockermem",
        "Version": version,
        "ShortDescription": "Memory safety for docker compose test stacks (dockermem)",
    }


@dataclass(frozen=True)
class PluginCall:
    """A run of `docker-mem` by the CLI: its global flags (long names, in order) and the
    arguments after `mem`."""

    global_flags: tuple[tuple[str, str], ...]
    arguments: tuple[str, ...]


def parse_plugin_call(argv: Sequence[str]) -> PluginCall:
    """`[GLOBAL FLAGS] mem ARGS` (argv without the program) as the CLI passes it."""
    flags: list[tuple[str, str]] = []
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == PLUGIN_NAME:
            return PluginCall(tuple(flags), tuple(argv[index + 1 :]))
        name, given, value = word.partition("=")
        if name in BOOLEAN_FLAGS:
            flags.append((BOOLEAN_FLAGS[name], value if given else "true"))
        elif name in FLAGS_WITH_VALUE:
            if not given:
                index += 1
                if index == len(argv):
                    raise ConfigError(f"docker's flag {word} has no value")
                value = argv[index]
            flags.append((FLAGS_WITH_VALUE[name], value))
        elif word[:2] in FLAGS_WITH_VALUE and len(word) > 2:  # -cNAME, -Hhost: a short flag and its value
            flags.append((FLAGS_WITH_VALUE[word[:2]], word[2:]))
        else:
            raise ConfigError(f"docker-mem is run by the docker CLI as `docker mem`; {word!r} is not its")
        index += 1
    raise ConfigError("docker-mem is run by the docker CLI as `docker mem` (no `mem` in its arguments)")


def plugin_environment(call: PluginCall, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for dockermem and its docker calls under the CLI's global flags."""
    environment = {name: value for name, value in environ.items() if name not in PLUGIN_RUN_VARIABLES}
    for flag, value in call.global_flags:
        if flag in NOT_PASSED_ON:
            raise ConfigError(
                f"cannot pass {flag} on to its docker calls: set DOCKER_CERT_PATH to the "
                "directory of ca.pem, cert.pem and key.pem instead"
            )
        if flag == "--context":
            environment["DOCKER_CONTEXT"] = value
            environment.pop("DOCKER_HOST", None)  # the CLI would take it over DOCKER_CONTEXT
        elif flag == "--host":
            environment["DOCKER_HOST"] = value
            environment.pop("DOCKER_CONTEXT", None)
        elif flag == "--config":
            environment["DOCKER_CONFIG"] = value
        elif flag in ("--tls", "--tlsverify"):
            variable = "DOCKER_TLS" if flag == "--tls" else "DOCKER_TLS_VERIFY"
            if value.lower() in ("", "0", "false"):
                environment.pop(variable, None)
            else:
                environment[variable] = "1"
        # --debug and --log-level are about the CLI's own log: nothing to pass on.
    return environment


def docker_config_dir(environ: Mapping[str, str]) -> Path:
    """The docker CLI's configuration directory: `$DOCKER_CONFIG`, else `~/.docker`."""
    return Path(environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def plugin_directory(environ: Mapping[str, str]) -> Path:
    """Where the CLI looks first for its plugins, and where `install-plugin` links `docker-mem`."""
    return docker_config_dir(environ) / "cli-plugins"
