"""Several engines in one watch, and a daemon restarted during it (a second dockerd of the
test's own, so that the main engine is never touched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.integration.daemons import SecondDaemon
from tests.integration.realdocker import MEMHOG_IMAGE, docker, run_container, unique_name

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]


def test_two_engines_in_one_watch_and_a_daemon_restart(second_daemon: SecondDaemon) -> None:
    project = unique_name("dmengines")
    label = ["--label", f"com.docker.compose.project={project}", "--label", "com.docker.compose.service=hold"]
    main_name = unique_name("dmengines-main")
    run_container(main_name, ["--memory", "64m", *label, MEMHOG_IMAGE, "memhog", "10"])
    second_daemon.docker(
        "run", "-d", "--network", "none", "--memory", "64m", "--restart", "always", "--name", "far", *label,
        MEMHOG_IMAGE, "memhog", "20",
    )  # fmt: skip
    config = second_daemon.context_config("dm-second")
    try:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "dockermem", "watch", "--json", "-p", project, "--duration", "16",
             "--interval", "0.5", "--context", "default", "--context", "dm-second"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "DOCKER_CONFIG": config},
        )  # fmt: skip
        time.sleep(4)
        second_daemon.restart()
        out, err = watcher.communicate(timeout=90)
    finally:
        docker("rm", "-f", main_name, check=False)
    assert "Traceback" not in err, err
    lines: list[dict[str, Any]] = [json.loads(line) for line in out.splitlines() if line.strip()]
    samples = [line for line in lines if line["type"] == "sample"]
    engines_seen = {row["engine"] for sample in samples for row in sample["containers"]}
    assert engines_seen == {"default", "dm-second"}
    restarts = [
        line for line in lines if line["type"] == "stream-restarted" and line["engine"] == "dm-second"
    ]
    assert restarts, [line for line in lines if line["type"] != "sample"]
    after = [
        sample
        for sample in samples
        if sample["ts"] > restarts[-1]["ts"]
        and any(row["engine"] == "dm-second" for row in sample["containers"])
    ]
    assert after, "no sample of the second engine after its stream was restarted"
    far = [row for row in after[-1]["containers"] if row["engine"] == "dm-second"][0]
    assert far["name"] == "far" and abs(far["memory_usage_bytes"] - 20 * 1024**2) < 3 * 1024**2
    assert watcher.returncode == 0
