"""Entry point of the `docker-mem` script: dockermem as the docker CLI plugin `docker mem`.

Loads no more than `dockermem` itself does: the CLI runs it for its metadata on every
`docker --help`, and for every `docker mem`.
"""

from __future__ import annotations

import os
import sys

from dockermem.cli.startup import collector_off
from dockermem.docker.cli_plugin import METADATA_COMMAND, parse_plugin_call, plugin_environment
from dockermem.errors import ConfigError, ExitCode


def main() -> None:
    """Answer the CLI's metadata handshake, or run dockermem with the CLI's global flags (its
    context, host and config) passed on to every docker call it makes."""
    collector_off()
    arguments = sys.argv[1:]
    if arguments[:1] == [METADATA_COMMAND]:
        import json

        from dockermem import __version__
        from dockermem.docker.cli_plugin import plugin_metadata

        print(json.dumps(plugin_metadata(__version__)))
        return
    try:
        call = parse_plugin_call(arguments)
        environment = plugin_environment(call, os.environ)
    except ConfigError as error:
        print(f"docker mem: {error}", file=sys.stderr)
        raise SystemExit(int(ExitCode.USAGE)) from None
    os.environ.clear()
    os.environ.update(environment)
    sys.argv = ["docker mem", *call.arguments]
    from dockermem.cli.app import main as dockermem_main

    dockermem_main(prog_name="docker mem", shell_completion=False)
