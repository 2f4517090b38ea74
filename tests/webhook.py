"""A webhook receiver on loopback for the alert tests: it keeps every body posted to it and
answers with the status the test sets."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType
from typing import Any


class WebhookReceiver:
    """`with WebhookReceiver("/hooks/token") as hook:` then post to `hook.url`; `hook.bodies`."""

    def __init__(self, path: str = "/hooks/token") -> None:
        self.path = path
        self.bodies: list[str] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                receiver.bodies.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
