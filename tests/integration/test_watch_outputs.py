"""What hangs off `watch`: Prometheus metrics, webhook alerts (to a server on loopback), and
GitHub Actions output. The webhook URL is a secret and must appear in no output."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.realdocker import (
    ComposeProject,
    cli_env,
    dockermem,
    finish,
    memhog_service,
    unique_name,
)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]
MIB = 1024**2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def steady(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeProject]:
    project = ComposeProject(unique_name("dmmetrics"), tmp_path_factory.mktemp("metrics") / "compose.yaml")
    project.services = {
        "api": memhog_service(50, "128m", checked=False),
        "db": memhog_service(20, "64m", checked=False),
    }
    try:
        project.up()
        project.wait_ready()
        time.sleep(1)
        yield project
    finally:
        project.down()


def samples_by(text: str, name: str) -> dict[str, float]:
    return {
        sample.labels["service"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_metrics_endpoint_parses_and_matches_stats_json(steady: ComposeProject) -> None:
    port = free_port()
    watcher = subprocess.Popen(
        [sys.executable, "-m", "dockermem", "watch", "--json", "-p", steady.name, "--duration", "6",
         "--interval", "0.5", "--metrics-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    try:
        time.sleep(3)
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        stats = json.loads(dockermem("stats", "--json", "-p", steady.name, env=cli_env()).stdout)
    finally:
        finish(watcher, 60)
    usage = samples_by(text, "container_memory_working_set_bytes")
    limits = samples_by(text, "container_spec_memory_limit_bytes")
    levels = samples_by(text, "dockermem_threshold_level")
    assert set(usage) == {"api", "db"}
    for container in stats["containers"]:
        service = container["service"]
        assert usage[service] == pytest.approx(container["memory_usage_bytes"], rel=0.05)
        assert limits[service] == container["memory_limit_bytes"]
        assert levels[service] == ["safe", "warning", "critical", "emergency"].index(container["level"])
    assert samples_by(text, "container_oom_events_total") == {"api": 0.0, "db": 0.0}


def test_stats_prometheus_format_matches_stats_json(steady: ComposeProject) -> None:
    text = dockermem("stats", "--format", "prometheus", "-p", steady.name, env=cli_env()).stdout
    stats = json.loads(dockermem("stats", "--json", "-p", steady.name, env=cli_env()).stdout)
    usage = samples_by(text, "container_memory_usage_bytes")
    for container in stats["containers"]:
        assert usage[container["service"]] == pytest.approx(container["memory_usage_bytes"], rel=0.05)
    assert samples_by(text, "container_spec_memory_limit_bytes") == {"api": 128 * MIB, "db": 64 * MIB}


class Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        length = int(self.headers["Content-Length"])
        Receiver.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/s3cr3t-token-value"
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_alert_reaches_a_local_server_and_its_url_appears_nowhere(
    tmp_path: Path, receiver: str
) -> None:
    project = ComposeProject(unique_name("dmalert"), tmp_path / "compose.yaml")
    service = memhog_service(4, "64m", checked=False)
    service["memswap_limit"] = "64m"
    project.services = {"victim": service}
    summary_file = tmp_path / "summary.md"
    try:
        project.up()
        project.wait_ready()
        watcher = subprocess.Popen(
            [sys.executable, "-m", "dockermem", "watch", "-p", project.name, "--duration", "7",
             "--interval", "0.5", "--alert-webhook", receiver],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=cli_env(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary_file)),
        )  # fmt: skip
        time.sleep(3)
        project.compose("exec", "-T", "victim", "memhog", "200", check=False)
        out, err = watcher.communicate(timeout=60)
    finally:
        project.down()
    assert watcher.returncode == 1
    texts = [message["text"] for message in Receiver.received]
    # One alert for the container: its EMERGENCY or its OOM kill, whichever came first; the
    # other falls within the per-container rate limit.
    assert len(texts) == 1, texts
    assert ("OOM kill in" in texts[0] or "EMERGENCY" in texts[0]) and "victim" in texts[0]
    summary = summary_file.read_text()
    assert "## dockermem watch" in summary and "OOM" in summary
    assert "::error title=dockermem oom::" in out
    for output in (out, err, summary):
        assert "s3cr3t-token-value" not in output and receiver not in output


def test_bad_webhook_url_is_refused_without_repeating_it() -> None:
    secret = "ftp://hooks.example.invalid/s3cr3t"
    result = dockermem("watch", "--duration", "1", "--alert-webhook", secret, env=cli_env())
    assert result.returncode == 2
    assert "s3cr3t" not in result.stderr and "s3cr3t" not in result.stdout
    assert "alert" in result.stderr
