"""`dockermem install-plugin`: `docker-mem` linked where the docker CLI looks for its plugins."""

from __future__ import annotations

import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from dockermem.errors import ConfigError

PLUGIN_SCRIPT = "docker-mem"


@dataclass(frozen=True)
class PluginLink:
    """The link made (or found already made): `link` points at `script`."""

    link: Path
    script: Path
    changed: bool


def installed_plugin_script() -> Path:
    """The `docker-mem` script installed with this dockermem: in the scripts directory of the
    environment this interpreter runs (a virtualenv's bin, pipx's own), else the user's scripts
    directory (`pip install --user`), else the first on PATH."""
    directories = [sysconfig.get_path("scripts")]
    if sys.prefix == sys.base_prefix:  # not a virtualenv: a user install puts scripts elsewhere
        directories.append(sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user")))
    for directory in directories:
        candidate = Path(directory) / PLUGIN_SCRIPT
        if candidate.is_file():
            return candidate
    found = shutil.which(PLUGIN_SCRIPT)
    if found is None:
        raise ConfigError(f"no {PLUGIN_SCRIPT} script is installed beside dockermem (reinstall dockermem)")
    return Path(found)


def link_plugin(script: Path, plugin_directory: Path) -> PluginLink:
    """Link `plugin_directory/docker-mem` to `script`; nothing changes when it already does. A
    link to another script is replaced; a file that is no link is left alone (an error)."""
    link = plugin_directory / PLUGIN_SCRIPT
    if link.is_symlink():
        if Path(link.readlink()) == script:
            return PluginLink(link, script, changed=False)
        link.unlink()
    elif link.exists():
        raise ConfigError(f"{link} is there and is not a link: remove it to link dockermem's plugin there")
    try:
        plugin_directory.mkdir(parents=True, exist_ok=True)
        link.symlink_to(script)
    except OSError as error:
        raise ConfigError(f"cannot link {link}: {error.strerror or error}") from None
    return PluginLink(link, script, changed=True)
