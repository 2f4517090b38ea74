"""Alerts to a Slack-compatible webhook for EMERGENCY, OOM and leak events, rate-limited per
container. The webhook URL is a secret: it is never printed, logged or written to a report;
errors name only what went wrong."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from dockermem.clock import Clock, current_clock
from dockermem.core.events import Event, EventType, SessionSummary
from dockermem.core.session import Observer, Session
from dockermem.errors import ConfigError

ALERTED = frozenset({EventType.EMERGENCY, EventType.OOM, EventType.LEAK})
# Posted (whatever the interval) to take back an alert this webhook was sent.
TAKEN_BACK = {EventType.LEAK_CLEARED: EventType.LEAK}
QUEUE_SIZE = 100
POST_TIMEOUT_SECONDS = 5.0


def check_webhook_url(url: str) -> str:
    """An http(s) URL with a host; the error does not repeat the URL (it is a secret)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("the alert webhook must be an http:// or https:// URL with a host")
    return url


@dataclass
class WebhookAlerter(Observer):
    """Queues alert-worthy events and posts them, at most one per container per interval."""

    url: str
    min_interval_seconds: float = 300.0
    clock: Clock = field(default_factory=current_clock)
    failures: list[str] = field(default_factory=list)
    sent: int = 0
    _last_sent: dict[tuple[str, str], float] = field(default_factory=dict)
    _standing: set[tuple[str, str, EventType]] = field(default_factory=set)  # alerts not taken back
    _send: MemoryObjectSendStream[Event] | None = None
    _receive: MemoryObjectReceiveStream[Event] | None = None

    def __post_init__(self) -> None:
        check_webhook_url(self.url)
        self._send, self._receive = anyio.create_memory_object_stream[Event](QUEUE_SIZE)

    def event(self, event: Event) -> None:
        """Keeps the events worth an alert (drops them if the queue is full)."""
        if self._send is None:
            return
        key = (event.engine, event.container or "")
        taken_back = TAKEN_BACK.get(event.type)
        if taken_back is not None:
            if (*key, taken_back) not in self._standing:
                return
            self._standing.discard((*key, taken_back))
        elif event.type in ALERTED:
            now = self.clock.monotonic()
            if now - self._last_sent.get(key, -math.inf) < self.min_interval_seconds:
                return
            self._last_sent[key] = now
            self._standing.add((*key, event.type))
        else:
            return
        try:
            self._send.send_nowait(event)
        except anyio.WouldBlock:
            self.failures.append("alert queue full: an alert was dropped")

    def finish(self, summary: SessionSummary | None = None) -> None:
        """No more alerts are taken; those still queued (the session's last frame may have
        brought one) are posted now, before the run ends."""
        if self._send is None or self._receive is None:
            return
        self._send.close()
        while True:
            try:
                event = self._receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream):
                break
            self._post(slack_payload(event))
        self._receive.close()

    async def run(self, session: Session | None = None) -> None:
        """Post queued alerts until cancelled."""
        assert self._receive is not None and self._send is not None
        try:
            async for event in self._receive:
                await anyio.to_thread.run_sync(self._post, slack_payload(event), abandon_on_cancel=True)
        finally:
            self._send.close()
            self._receive.close()

    def _post(self, payload: dict[str, str]) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(payload).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=POST_TIMEOUT_SECONDS) as response:
                response.read()
            self.sent += 1
        except urllib.error.HTTPError as error:
            self.failures.append(f"alert webhook answered HTTP {error.code}")
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            self.failures.append(f"alert webhook unreachable ({type(reason).__name__})")


def slack_payload(event: Event) -> dict[str, str]:
    """Slack's incoming-webhook form: one `text`."""
    marker = {
        EventType.EMERGENCY: "🚨",
        EventType.OOM: "💥",
        EventType.LEAK: "📈",
        EventType.LEAK_CLEARED: "✅",
    }[event.type]
    engine = f" [{event.engine}]" if event.engine and event.engine != "default" else ""
    return {"text": f"{marker} dockermem{engine}: {event.message}"}
