"""`dockermem install-plugin`."""

from __future__ import annotations

from dockermem.cli.common import fail


def install_plugin() -> None:
    """Link `docker-mem` into the docker CLI's plugins ($DOCKER_CONFIG/cli-plugins, default
    ~/.docker/cli-plugins), so that `docker mem up`, `docker mem watch`, ... run dockermem on
    the CLI's context. Running it again changes nothing."""
    import os

    from dockermem.core.cli_plugin import installed_plugin_script, link_plugin
    from dockermem.docker.cli_plugin import plugin_directory
    from dockermem.errors import ConfigError

    try:
        linked = link_plugin(installed_plugin_script(), plugin_directory(os.environ))
    except ConfigError as error:
        raise fail(str(error), error.exit_code) from None
    state = "linked" if linked.changed else "already linked"
    print(f"{state}: {linked.link} -> {linked.script}")
    print("try: docker mem --help")
