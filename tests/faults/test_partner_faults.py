"""A partner misbehaving on a real socket: hanging past the timeout, resetting the connection, 429, 410.

tests/partners/ covers the same rules with HTTP mocked (`responses`), and tests/e2e/ a partner answering 500 then
recovering; here the transport meets a real local server, so its timeouts, socket errors and header parsing are
what a partner would get. One attempt each, in-process: the Celery path around it is the end-to-end tests' subject.
"""

import threading

import pytest
from django.utils import timezone

from partners import delivery as deliveries
from partners import outbox
from partners.models import Delivery, DeliveryAttempt, Partner, State
from tests.support.sink import Reply

TIMEOUT = 0.5


@pytest.fixture
def attempt_once(settings, client, network, sink):
    """Post a conversion, script the partner's reply, make the delivery's first attempt; return it and its record."""
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    settings.OUTBOUND_TIMEOUT = TIMEOUT
    settings.DELIVERY_RETRY_SCHEDULE = [0, 60, 60]
    partner = Partner.objects.create(name="Publisher", postback_url=sink.url("/pb?click={click_id}"))

    def attempt(reply):
        sink.script(reply)
        assert client.get(f"/postback/{network.key}/", {"click_id": "c-1", "transaction_id": "t-1"}).json()["success"]
        outbox.route()  # the worker's part, done here
        delivery = partner.deliveries.get()
        outcome = deliveries.attempt(delivery.pk)
        delivery.refresh_from_db()
        [record] = DeliveryAttempt.objects.filter(delivery=delivery)
        return outcome, delivery, record

    return attempt


def test_a_partner_hanging_past_the_timeout_is_a_timed_out_attempt_retried_later(attempt_once, sink):
    released = threading.Event()
    try:
        # The partner takes the request and never answers until the test is over.
        outcome, delivery, record = attempt_once(Reply(on_arrival=lambda: released.wait(60)))
    finally:
        released.set()

    assert len(sink.received) == 1
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (State.RETRYING, 1, None)
    assert delivery.last_error == f"timed out after {TIMEOUT:g} s"
    assert delivery.next_attempt_at > timezone.now()
    assert (record.response_status, record.error) == (None, f"timed out after {TIMEOUT:g} s")
    assert record.duration_ms >= TIMEOUT * 1000
    assert outcome.retry_in is not None


def test_a_connection_reset_by_the_partner_is_a_failed_attempt_retried_later(attempt_once, sink):
    outcome, delivery, record = attempt_once(Reply(reset=True))

    assert len(sink.received) == 1
    assert (delivery.state, delivery.attempts) == (State.RETRYING, 1)
    assert record.response_status is None
    assert (record.error_code, record.error.endswith("closed the connection without an answer")) == ("reset", True)
    assert "reset by peer" in record.error_detail
    assert delivery.last_error == record.error
    assert outcome.retry_in is not None


def test_429_with_retry_after_waits_as_long_as_the_partner_asks(attempt_once):
    outcome, delivery, record = attempt_once(Reply(429, body=b"slow down", headers=(("Retry-After", "900"),)))

    assert (delivery.state, delivery.last_status_code) == (State.RETRYING, 429)
    assert (record.response_status, record.response_body) == (429, "slow down")
    assert record.response_headers["retry-after"] == "900"
    assert record.error == "HTTP 429 Too Many Requests"
    # The schedule says about 60 s; the partner's 900 s wins.
    assert outcome.retry_in == 900
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 890 < wait <= 900


def test_410_gone_fails_the_delivery_for_good_and_disables_the_partner(attempt_once):
    outcome, delivery, record = attempt_once(Reply(410, body=b"gone"))

    assert (delivery.state, delivery.last_status_code) == (State.FAILED, 410)
    assert delivery.reason == "the destination answered 410 Gone; it is disabled"
    assert delivery.finished_at is not None
    assert (record.response_status, record.error) == (410, "HTTP 410 Gone")
    assert outcome.retry_in is None
    delivery.destination.refresh_from_db()
    assert delivery.destination.disabled_at is not None
    assert "410 Gone" in delivery.destination.disabled_reason
    assert not Delivery.objects.filter(state__in=[State.PENDING, State.RETRYING]).exists()
