"""A second Docker daemon of the test's own, on its own socket, data root and exec root, so
that a test can stop and restart it without touching the main engine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.integration.realdocker import MEMHOG_IMAGE


class SecondDaemon:
    """`dockerd` with no bridge and no iptables rules (its containers use no network)."""

    def __init__(self) -> None:
        # A short path: unix socket paths are limited to about 100 bytes.
        self.base = Path(tempfile.mkdtemp(prefix="dm2-", dir="/tmp"))
        self.socket = self.base / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.base / "dockerd.log"

    def start(self) -> None:
        command = [
            "dockerd", "--host", self.host, "--data-root", str(self.base / "data"),
            "--exec-root", str(self.base / "exec"), "--pidfile", str(self.base / "docker.pid"),
            "--bridge", "none", "--iptables=false", "--ip-masq=false",
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.docker("info", check=False).returncode == 0:
                return
            time.sleep(0.3)
        raise AssertionError(f"the second dockerd did not answer; see {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def docker(
        self, *args: str, check: bool = True, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["docker", "--host", self.host, *args], capture_output=True, check=check, input=stdin, timeout=120
        )

    def load_test_image(self) -> None:
        saved = subprocess.run(["docker", "save", MEMHOG_IMAGE], capture_output=True, check=True).stdout
        self.docker("load", stdin=saved)

    def remove(self) -> None:
        if self.process is not None:
            for container in self.docker("ps", "-aq", check=False).stdout.decode().split():
                self.docker("rm", "-f", container, check=False)
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def context_config(self, name: str) -> str:
        """A DOCKER_CONFIG directory holding a context `name` for this daemon (the user's own
        contexts and current context are left alone)."""
        config = self.base / "config"
        config.mkdir(exist_ok=True)
        subprocess.run(
            ["docker", "context", "create", name, "--docker", f"host={self.host}"],
            capture_output=True, check=True, env={**os.environ, "DOCKER_CONFIG": str(config)},
        )  # fmt: skip
        return str(config)
