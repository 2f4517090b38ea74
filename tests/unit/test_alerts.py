"""The webhook alerter on a clock the test moves: only EMERGENCY, OOM and leak are posted, at
most one per container per interval, and a receiver that fails is said without its URL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from dockermem.clock import ManualClock
from dockermem.core.alerts import WebhookAlerter, slack_payload
from dockermem.core.events import Event, EventType
from tests.builders import START
from tests.webhook import WebhookReceiver


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver("/hooks/secret-token") as receiver:
        yield receiver


def happened(kind: EventType, container: str | None = "shop-api-1", message: str = "it happened") -> Event:
    return Event(kind, START, "default", container, message)


def post_all(alerter: WebhookAlerter, offers: Sequence[tuple[float, Event]], clock: ManualClock) -> None:
    """Offer each event at its time on the clock; the alerter's finish posts what it kept."""
    for seconds, event in offers:
        clock.advance(seconds - (clock.monotonic() - 1000.0))
        alerter.event(event)
    alerter.finish()


def test_only_emergency_oom_and_leak_and_one_per_container_per_interval(webhook: WebhookReceiver) -> None:
    clock = ManualClock(START)
    alerter = WebhookAlerter(webhook.url, min_interval_seconds=300, clock=clock)
    offers = [
        (0, happened(EventType.WARNING)),  # not alerted
        (1, happened(EventType.OOM, message="OOM kill in shop-api-1")),
        (2, happened(EventType.LEAK)),  # the same container within 300 s
        (3, happened(EventType.EMERGENCY, container=None, message="memory is at EMERGENCY")),
        (301, happened(EventType.LEAK, message="api: +12.0 MiB/min")),  # the interval has passed
    ]
    post_all(alerter, offers, clock)
    assert webhook.bodies == [
        '{"text": "\\ud83d\\udca5 dockermem: OOM kill in shop-api-1"}',
        '{"text": "\\ud83d\\udea8 dockermem: memory is at EMERGENCY"}',
        '{"text": "\\ud83d\\udcc8 dockermem: api: +12.0 MiB/min"}',
    ]
    assert alerter.sent == 3 and alerter.failures == []


def test_a_leak_alerted_is_taken_back_whatever_the_interval_and_one_never_sent_is_not(
    webhook: WebhookReceiver,
) -> None:
    clock = ManualClock(START)
    alerter = WebhookAlerter(webhook.url, min_interval_seconds=300, clock=clock)
    offers = [
        (0, happened(EventType.LEAK, message="api: +300.0 MiB/min")),
        (8, happened(EventType.LEAK_CLEARED, message="api: no longer growing")),  # within 300 s
        (9, happened(EventType.LEAK_CLEARED, message="again")),  # nothing standing to take back
        (10, happened(EventType.LEAK_CLEARED, container="shop-db-1")),  # its leak was never sent
    ]
    post_all(alerter, offers, clock)
    assert webhook.bodies == [
        '{"text": "\\ud83d\\udcc8 dockermem: api: +300.0 MiB/min"}',
        '{"text": "\\u2705 dockermem: api: no longer growing"}',
    ]


def test_a_receiver_that_fails_is_said_without_its_url(webhook: WebhookReceiver) -> None:
    webhook.status = 500
    clock = ManualClock(START)
    alerter = WebhookAlerter(webhook.url, clock=clock)
    post_all(alerter, [(0, happened(EventType.OOM))], clock)
    assert alerter.failures == ["alert webhook answered HTTP 500"]
    assert "secret-token" not in " ".join(alerter.failures)


def test_the_engine_is_named_in_an_alert_only_when_there_are_several() -> None:
    named = Event(EventType.OOM, START, "ci-runner", "c", "OOM kill in c")
    assert slack_payload(named) == {"text": "💥 dockermem [ci-runner]: OOM kill in c"}
