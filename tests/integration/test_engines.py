"""Several engines in one watch, and a daemon that goes away during a watch: a second dockerd of
the test's own (the main engine is never touched), and the matrix's Docker 26 and Podman, each
started again as `make test` starts them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.conftest import ReliabilityRecorder
from tests.integration.daemons import SecondDaemon
from tests.integration.realdocker import (
    ENGINES,
    MEMHOG_IMAGE,
    MIB,
    ComposeProject,
    docker,
    finish,
    memhog_service,
    run_container,
    unique_name,
    watching,
)

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
        out, err = finish(watcher, 90)
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


@pytest.mark.parametrize(
    "engine", [e for e in ENGINES if e.daemon_process], ids=[e.name for e in ENGINES if e.daemon_process],
    indirect=True,
)  # fmt: skip
def test_an_engine_that_goes_away_during_watch_is_said_and_followed_again(
    engine_project: ComposeProject, reliability: ReliabilityRecorder
) -> None:
    engine = engine_project.engine
    hold = memhog_service(20, "64m", checked=False)
    hold["restart"] = "always"  # Docker stops its containers with its daemon; they come back with it
    engine_project.services = {"hold": hold}
    engine_project.up()
    engine_project.wait_ready()
    watcher, output = watching(engine_project, 25)
    try:
        output.until('"type": "sample"')
        engine.stop_daemon()
        output.until('"type": "engine-down"', timeout=30)
    finally:
        engine.start_daemon()
    out, err = finish(watcher, 90, output)
    lines: list[dict[str, Any]] = [json.loads(line) for line in out.splitlines() if line.strip()]
    kinds = [line["type"] for line in lines if line["type"] != "sample"]
    restarted = next(i for i, line in enumerate(lines) if line["type"] == "stream-restarted")
    after = [line for line in lines[restarted:] if line["type"] == "sample" and line["containers"]]
    reliability(
        "engines", f"{engine.name}: its daemon stopped during `watch --json`, then started again",
        "engine-down once, stream-restarted, samples again, exit 0, no traceback",
        f"exit {watcher.returncode}; events {sorted(set(kinds))}; "
        f"{len(after)} samples with the container after",
    )  # fmt: skip
    assert "Traceback" not in err, err
    assert kinds.count("engine-down") == 1, kinds
    assert after, "no sample of the container once the engine answered again"
    assert abs(after[-1]["containers"][0]["memory_usage_bytes"] - 20 * MIB) < 3 * MIB
    assert watcher.returncode == 0, err
