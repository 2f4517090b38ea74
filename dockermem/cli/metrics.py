"""`watch --metrics-port`: the latest frame as Prometheus metrics, served on a local address
while the session runs."""

from __future__ import annotations

import threading
from typing import Any

from dockermem.core.events import Frame, SessionSummary
from dockermem.core.session import Observer, Session
from dockermem.errors import ConfigError


class MetricsEndpoint(Observer):
    """Serves the metrics of the latest frame at http://address:port/metrics. The server starts
    with the session (an address in use is exit 2) and stops with it."""

    def __init__(self, address: str, port: int) -> None:
        from dockermem.render.metrics import LatestCollector

        self.address = address
        self.port = port
        self._collector = LatestCollector()
        self._server: Any = None

    def begin(self, session: Session) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self._collector)
        try:
            self._server, _ = start_http_server(self.port, addr=self.address, registry=registry)
        except OSError as error:
            raise ConfigError(
                f"--metrics-port {self.port}: cannot serve on {self.address}: {error.strerror}"
            ) from None

    def frame(self, frame: Frame) -> None:
        from dockermem.render.metrics import frame_metrics

        self._collector.store(frame_metrics(frame))

    def finish(self, summary: SessionSummary) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.server_close()  # no new connections from here on
            # shutdown() waits for the serving loop's next poll (up to half a second): the run
            # has ended and need not wait for it.
            threading.Thread(target=server.shutdown, daemon=True).start()
