"""Load: `watch` over 300 containers for two minutes keeps its pace, its memory and its file
descriptors flat."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import psutil
import pytest

from tests.conftest import ReliabilityRecorder
from tests.integration.realdocker import MEMHOG_IMAGE, docker, unique_name
from tests.schemas import dockermem_args, json_output

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]
CONTAINERS = int(os.environ.get("DOCKERMEM_LOAD_CONTAINERS", "300"))
SECONDS = float(os.environ.get("DOCKERMEM_LOAD_SECONDS", "120"))
INTERVAL = 1.0


def test_watch_over_many_containers_stays_on_time_and_flat(
    tmp_path: Path, reliability: ReliabilityRecorder
) -> None:
    project = unique_name("dmload")
    labels = [
        "--label",
        f"com.docker.compose.project={project}",
        "--label",
        "com.docker.compose.service=hold",
    ]

    def start(index: int) -> None:
        docker("run", "-d", "--network", "none", "--memory", "16m", "--name", f"{project}-{index}", *labels,
               MEMHOG_IMAGE, "memhog", "1")  # fmt: skip

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(start, range(CONTAINERS)))
        output = tmp_path / "watch.jsonl"
        with open(output, "w") as sink:
            watcher = subprocess.Popen(
                [sys.executable, "-m", "dockermem", "watch", "--json", "-p", project,
                 "--duration", str(SECONDS), "--interval", str(INTERVAL), "--no-history"],
                stdout=sink, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "DOCKER_MAX_CONTAINERS": "100000"},
            )  # fmt: skip
            process = psutil.Process(watcher.pid)
            time.sleep(SECONDS / 2)
            rss_first, fds_first = process.memory_info().rss, process.num_fds()
            time.sleep(SECONDS / 2 - 5)
            rss_last, fds_last = process.memory_info().rss, process.num_fds()
            _, err = watcher.communicate(timeout=120)
        lines = json_output(dockermem_args(watcher.args), output.read_text())
        samples = [line for line in lines if line["type"] == "sample"]
    finally:
        names = [f"{project}-{index}" for index in range(CONTAINERS)]
        for start_at in range(0, len(names), 100):
            docker("rm", "-f", *names[start_at : start_at + 100], check=False)
    times = [datetime.fromisoformat(sample["ts"]).timestamp() for sample in samples]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    worst_gap = max(gaps) if gaps else float("inf")
    growth = (rss_last - rss_first) / rss_first
    reliability(
        "load", f"`watch` over {CONTAINERS} containers for {SECONDS:.0f} s at {INTERVAL:g} s",
        "no sample later than twice the interval; memory grows ≤ 10 % after the first half; no fd growth",
        f"{len(samples)} samples, worst gap {worst_gap:.2f} s; RSS {rss_first / 2**20:.1f} → "
        f"{rss_last / 2**20:.1f} MiB ({growth:+.1%}); fds {fds_first} → {fds_last}",
    )  # fmt: skip
    assert watcher.returncode == 0, err
    assert all(len(sample["containers"]) == CONTAINERS for sample in samples[3:])
    assert worst_gap <= 2 * INTERVAL
    assert growth <= 0.10
    assert fds_last <= fds_first
