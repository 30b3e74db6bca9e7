"""Forwarding end to end: receiver -> conversion -> a real Celery worker -> a local HTTP partner."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from partners import outbox
from partners.models import FINAL_STATES, Delivery, DeliveryAttempt, Method, Partner, State
from partners.signing import generate_secret
from receiver.models import ConversionEvent, ReceivedPostback
from receiver.tasks import prune
from tests.support.sink import Reply

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def make_partner(**fields):
    partner = Partner(name=fields.pop("name", "Publisher"), **fields)
    partner.full_clean()
    partner.save()
    return partner


def post(client, network, **params):
    """A postback in through the receiver; its forwarding is queued when the transaction commits."""
    answer = client.get(f"/postback/{network.key}/", params).json()
    assert answer["success"], answer
    return answer


def all_final():
    """Every event routed by the worker (the postback's transaction makes no delivery), every delivery finished."""
    return not outbox.unrouted().exists() and not Delivery.objects.exclude(state__in=FINAL_STATES).exists()


def test_the_partner_receives_the_rendered_url(client, network, sink, workers, wait_until):
    make_partner(postback_url=sink.url("/pb?click={click_id}&amount={payout}&status={status}"))
    workers.start()

    post(client, network, click_id="ab& c/1", transaction_id="t-1", payout="1.5", status="approved")

    wait_until(lambda: sink.received, "the partner to receive the postback")
    wait_until(all_final, "the delivery to finish")
    [request] = sink.received
    assert request.method == "GET"
    assert request.path == "/pb?click=ab%26%20c%2F1&amount=1.50&status=approved"
    delivery = Delivery.objects.get()
    assert delivery.state == State.SUCCEEDED
    [attempt] = delivery.attempt_set.all()
    assert (attempt.url, attempt.response_status, attempt.error) == (sink.url(request.path), 200, "")


def test_a_status_change_is_received_again_and_a_duplicate_is_not(client, network, sink, workers, wait_until):
    make_partner(postback_url=sink.url("/pb?click={click_id}&status={status}&event={event}"))
    workers.start()

    post(client, network, click_id="c-2", transaction_id="t-2", status="pending")
    wait_until(lambda: len(sink.received) == 1, "the pending conversion")
    post(client, network, click_id="c-2", transaction_id="t-2", status="approved")
    wait_until(lambda: len(sink.received) == 2, "the status change")
    assert post(client, network, click_id="c-2", transaction_id="t-2", status="approved")["duplicate"]
    # A later, unrelated conversion is the barrier: once it has arrived, the duplicate had its chance to.
    post(client, network, click_id="c-3", transaction_id="t-3", status="approved")
    wait_until(lambda: len(sink.received) >= 3, "the unrelated conversion")
    wait_until(all_final, "every delivery to finish")

    assert [request.path for request in sink.received] == [
        "/pb?click=c-2&status=pending&event=conversion",
        "/pb?click=c-2&status=approved&event=status_change",
        "/pb?click=c-3&status=approved&event=conversion",
    ]
    assert list(Delivery.objects.values_list("state", flat=True)) == [State.SUCCEEDED] * 3


def test_a_partner_that_fails_twice_then_recovers_gets_three_attempts_and_one_success_that_a_prune_keeps(
    client, network, sink, workers, wait_until
):
    sink.script(Reply(500), Reply(500))
    make_partner(postback_url=sink.url("/pb?click={click_id}"))
    workers.start()

    post(client, network, click_id="c-3", transaction_id="t-3")

    wait_until(all_final, "the delivery to succeed after two retries")
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (State.SUCCEEDED, 3, 200)
    attempts = list(delivery.attempt_set.order_by("number"))
    assert [(a.number, a.response_status) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert [a.error for a in attempts] == ["HTTP 500 Internal Server Error", "HTTP 500 Internal Server Error", ""]
    assert len(sink.received) == 3

    # The daily prune, as beat queues it, on the worker (here, rather than a test of its own, to start no other
    # worker): once the attempts and the request are past their retention, they go and the delivery's summary stays.
    old = timezone.now() - timedelta(days=400)
    DeliveryAttempt.objects.update(created_at=old)
    ReceivedPostback.objects.update(received_at=old)
    prune.delay()
    wait_until(
        lambda: not DeliveryAttempt.objects.exists() and not ReceivedPostback.objects.exists(),
        "the prune on the worker",
    )
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (State.SUCCEEDED, 3, 200)
    assert ConversionEvent.objects.get().postback_id is None


def test_a_worker_killed_mid_run_still_delivers_each_conversion_once_after_restart(
    client, network, sink, workers, wait_until
):
    conversions = 12
    partner = make_partner(postback_url=sink.url("/pb?click={click_id}"), signing_secret=generate_secret())
    # A short timeout and margin keep a dead worker's lock short: 2 * 1 + 1 s after its claim.
    lock = {"OUTBOUND_TIMEOUT": 1, "DELIVERY_LOCK_MARGIN": 1}
    first = workers.start(**lock)
    # The fourth request kills the worker while that request is in flight, so its delivery is left 'sending'.
    sink.default = Reply(delay=0.2)
    sink.script(*[Reply(delay=0.2)] * 3, Reply(delay=0.2, on_arrival=first.kill))

    for n in range(conversions):
        post(client, network, click_id=f"c-{n}", transaction_id=f"t-{n}")
    wait_until(lambda: not first.alive, "the first worker to be killed")

    assert Delivery.objects.filter(state=State.SENDING).exists(), "the killed worker left no delivery in flight"
    # The beat-scheduled sweep finds deliveries whose lock ran out and those whose tasks died with the worker.
    workers.start(beat=True, DELIVERY_SWEEP_EVERY=1, DELIVERY_SWEEP_GRACE=1, **lock)

    wait_until(
        lambda: Delivery.objects.filter(state=State.SUCCEEDED).count() == conversions,
        f"all {conversions} deliveries to succeed after the restart",
        timeout=45,
    )
    # Delivery is at-least-once: a request in flight when the worker died is sent again, with the
    # same webhook-id. The partner dedupes on webhook-id, so that is what counts as "exactly once".
    ids = sink.webhook_ids()
    assert len(ids) >= conversions
    assert sorted(set(ids)) == sorted(partner.deliveries.values_list("webhook_id", flat=True))
    successes = DeliveryAttempt.objects.filter(response_status=200)
    assert successes.count() == conversions
    assert successes.values("delivery").distinct().count() == conversions


def test_a_loopback_url_is_blocked_when_loopback_is_not_allowed(client, network, sink, workers, wait_until):
    make_partner(postback_url=sink.url("/pb?click={click_id}"))
    workers.start(OUTBOUND_ALLOW_LOOPBACK="false", DELIVERY_RETRY_SCHEDULE="0")

    post(client, network, click_id="c-5", transaction_id="t-5")

    wait_until(all_final, "the delivery to fail")
    delivery = Delivery.objects.get()
    assert delivery.state == State.FAILED
    [attempt] = delivery.attempt_set.all()
    assert attempt.response_status is None
    assert "blocked address" in attempt.error
    assert sink.received == []


def test_signed_json_posts_verify_with_standard_webhooks(client, network, sink, workers, wait_until):
    secret = generate_secret()
    make_partner(
        postback_url=sink.url("/hook"),
        method=Method.POST,
        body_type="json",
        body_template='{"click": "{click_id}", "payout": "{payout}", "status": "{status}", "event": "{event}"}',
        signing_secret=secret,
    )
    workers.start()

    post(client, network, click_id='c "6" ü', transaction_id="t-6", payout="2.5")

    wait_until(lambda: sink.received, "the signed postback")
    [request] = sink.received
    assert (request.method, request.path, request.headers["content-type"]) == ("POST", "/hook", "application/json")
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload == {"click": 'c "6" ü', "payout": "2.50", "status": "approved", "event": "conversion"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body.replace(b"2.50", b"9.50"), request.headers)
