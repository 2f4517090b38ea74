"""`watch --metrics-port`: the latest frame as Prometheus metrics, served on a local address."""

from __future__ import annotations

from typing import Any

from dockermem.core.events import Frame, SessionSummary
from dockermem.core.session import Observer
from dockermem.errors import ConfigError


class MetricsEndpoint(Observer):
    """Serves the metrics of the latest frame at http://address:port/metrics while the session runs."""

    def __init__(self, address: str, port: int) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        from dockermem.render.metrics import LatestCollector

        self._collector = LatestCollector()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self._collector)
        try:
            self._server: Any
            self._server, _ = start_http_server(port, addr=address, registry=registry)
        except OSError as error:
            raise ConfigError(f"--metrics-port {port}: cannot serve on {address}: {error.strerror}") from None

    def frame(self, frame: Frame) -> None:
        from dockermem.render.metrics import frame_metrics

        self._collector.store(frame_metrics(frame))

    def finish(self, summary: SessionSummary) -> None:
        self.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
