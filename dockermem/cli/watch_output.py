"""Where `watch` shows its frames and events: a live view, JSON lines or plain log lines; and
the metrics endpoint, alert observers and GitHub Actions output that hang off the same feed."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dockermem.cli.output import print_json, print_line, stdout_console

if TYPE_CHECKING:
    from rich.live import Live

    from dockermem.core.history import HistoryRecorder
    from dockermem.core.watch import WatchEvent, WatchFrame, WatchSummary
    from dockermem.render.metrics import LatestCollector


class WatchOutput:
    """Receives the watcher's frames and events and shows them the way the user asked."""

    def __init__(self, json: bool, live: bool, multiple_engines: bool) -> None:
        self.json = json
        self.multiple_engines = multiple_engines
        self.observers: list[Callable[[WatchEvent], None]] = []
        self.events: list[WatchEvent] = []
        self._live: Live | None = None
        self._metrics: LatestCollector | None = None
        self._metrics_server: Any = None
        self.recorder: HistoryRecorder | None = None
        if live:
            from rich.live import Live

            self._live = Live(console=stdout_console(), refresh_per_second=4, screen=False)

    def serve_metrics(self, address: str, port: int) -> None:
        """Prometheus metrics of the latest frame at http://address:port/metrics."""
        from prometheus_client import CollectorRegistry, start_http_server

        from dockermem.render.metrics import LatestCollector

        self._metrics = LatestCollector()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self._metrics)
        self._metrics_server, _ = start_http_server(port, addr=address, registry=registry)

    def __enter__(self) -> WatchOutput:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, error, trace)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()

    def frame(self, frame: WatchFrame) -> None:
        from dockermem.render.watch import build_watch_view, plain_frame_line, sample_document

        if self.recorder is not None:
            self.recorder.frame(frame)
        if self._metrics is not None:
            from dockermem.render.metrics import frame_metrics

            self._metrics.store(frame_metrics(frame))
        if self.json:
            print_json(sample_document(frame))
        elif self._live is not None:
            self._live.update(build_watch_view(frame, self.multiple_engines))
        else:
            print_line(plain_frame_line(frame))

    def event(self, event: WatchEvent) -> None:
        from dockermem.cli.github import print_annotation
        from dockermem.core.watch import WatchEventType
        from dockermem.render.github import annotation
        from dockermem.render.watch import event_document

        self.events = (self.events + [event])[-200:]
        if self.recorder is not None and event.type is WatchEventType.OOM:
            service = event.details.get("service")
            self.recorder.oom(event.ts, event.engine, None, service if isinstance(service, str) else None,
                              event.container or "")  # fmt: skip
        for observer in self.observers:
            observer(event)
        if self.json:
            print_json(event_document(event))
        elif self._live is None:
            print_line(f"{event.ts:%H:%M:%S} {event.type.value}: {event.message}")
        print_annotation(annotation(event), to_stderr=self.json)

    def finish(self, summary: WatchSummary) -> None:
        """Close the history run; GitHub Actions' step summary, when there is one."""
        import sys

        from dockermem.cli.github import append_step_summary, in_github_actions

        if self.recorder is not None:
            self.recorder.close()
            if self.recorder.error:
                print(f"dockermem: {self.recorder.error}", file=sys.stderr)

        if in_github_actions():
            from dockermem.render.github import watch_summary_markdown

            append_step_summary(watch_summary_markdown(summary, self.events))
