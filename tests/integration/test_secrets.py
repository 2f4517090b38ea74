"""Secrets stay secret: planted container environment values, a credential in an image
reference and the webhook URL appear in no report, JSON, log, metric or alert."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ReliabilityRecorder
from tests.integration.realdocker import (
    ComposeProject,
    docker,
    dockermem,
    finish,
    memhog_service,
    unique_name,
)
from tests.webhook import WebhookReceiver

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

ENV_SECRET = "planted-env-value-7f3a9c"
IMAGE_SECRET = "planted-image-cred-5e1b"
HOOK_SECRET = "planted-hook-token-2d8e"


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(f"/hooks/{HOOK_SECRET}") as receiver:
        yield receiver


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_planted_secrets_appear_in_no_output(
    tmp_path: Path, hook: WebhookReceiver, reliability: ReliabilityRecorder
) -> None:
    # An image whose reference carries a credential-like path part, as a private registry's may.
    image = f"localhost:5000/team/{IMAGE_SECRET}:test"
    docker("tag", "dockermem/memhog:test", image)
    project = ComposeProject(unique_name("dmsecret"), tmp_path / "compose.yaml")
    service = memhog_service(4, "64m", checked=False)
    service["image"] = image
    service["environment"] = {"API_TOKEN": ENV_SECRET, "DATABASE_URL": f"postgres://app:{ENV_SECRET}@db/app"}
    service["memswap_limit"] = "64m"
    project.services = {"app": service}
    env = {**os.environ, "DOCKER_MAX_CONTAINERS": "100000", "DOCKERMEM_STATE_DIR": str(tmp_path / "state")}
    outputs: dict[str, str] = {}
    try:
        project.write()
        up = dockermem("up", "-f", str(project.file), "-p", project.name, env=env)
        outputs["up"] = up.stdout + up.stderr
        for name, args in {
            "health": ["health", "-p", project.name],
            "health --json": ["health", "--json", "-p", project.name],
            "stats --json": ["stats", "--json", "-p", project.name],
            "stats prometheus": ["stats", "--format", "prometheus", "-p", project.name],
            "preflight --json": ["preflight", "--json", "-f", str(project.file), "-p", project.name],
            "cleanup --dry-run": ["cleanup", "-p", project.name, "--dry-run", "--json"],
        }.items():
            result = dockermem(*args, env=env)
            outputs[name] = result.stdout + result.stderr
        port = free_port()
        watcher = subprocess.Popen(
            [sys.executable, "-m", "dockermem", "watch", "--json", "-p", project.name, "--duration", "7",
             "--interval", "0.5", "--alert-webhook", hook.url, "--metrics-port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**env, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")},
        )  # fmt: skip
        time.sleep(3)
        import urllib.request

        outputs["metrics"] = (
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        )
        project.compose("exec", "-T", "app", "memhog", "200", check=False)  # an OOM kill: an alert is sent
        out, err = finish(watcher, 60)
        outputs["watch --json"] = out + err
        outputs["step summary"] = (tmp_path / "summary.md").read_text()
        report = dockermem("report", "--json", "--since", "1h", "--html", str(tmp_path / "r.html"), env=env)
        outputs["report"] = report.stdout + report.stderr + (tmp_path / "r.html").read_text()
        outputs["alerts"] = "\n".join(hook.bodies)
    finally:
        project.down()
        docker("rmi", image, check=False)
    leaks = [
        f"{where}: {secret}"
        for where, text in outputs.items()
        for secret in (ENV_SECRET, IMAGE_SECRET, HOOK_SECRET, hook.url)
        if secret in text
    ]
    reliability(
        "secrets", "container env values, a credential-like image path part and a webhook URL planted; "
        f"{len(outputs)} outputs searched", "none of them in any output",
        f"{len(leaks)} found; alerts received: {len(hook.bodies)}",
    )  # fmt: skip
    assert hook.bodies, "no alert reached the webhook, so the alert output was not searched"
    assert json.loads(hook.bodies[0])["text"]
    assert leaks == []
