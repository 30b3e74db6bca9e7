"""A delivery's life: claimed once, attempted, retried on schedule, closed; every attempt logged."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.utils import timezone

from partners import delivery as deliveries
from partners import outbox, parking
from partners.models import Delivery, DeliveryAttempt, Method, OfferShare, Partner, State
from partners.signing import generate_secret
from partners.tasks import drain, sweep

URL = "https://p.example/pb"


@pytest.fixture
def partner(db):
    return Partner.objects.create(
        name="Pub",
        slug="pub",
        postback_url=URL + "?click={click_id}&amount={payout}&status={status}&event={event}&pts={points}",
        share_value=Decimal("70"),
        points_value=Decimal("100"),
        headers={"Authorization": "Bearer partner-token"},
    )


@pytest.fixture
def convert(client, network, django_capture_on_commit_callbacks):
    """Send a postback and run what its commit hands over (fan-out and sends, in-process)."""

    def send(**params):
        with django_capture_on_commit_callbacks(execute=True):
            client.get(f"/postback/{network.key}/", {"click_id": "c 1&2", "payout": "2.00", **params})
        return Delivery.objects.order_by("-id").first()

    return send


@responses.activate
def test_a_conversion_reaches_the_partner_rendered_and_logged(partner, convert):
    responses.get(URL, body="ok")

    delivery = convert(transaction_id="t1")

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert responses.calls[0].request.url == (
        URL + "?click=c%201%262&amount=1.40&status=approved&event=conversion&pts=140"
    )
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.number, attempt.response_status, attempt.response_body, attempt.error) == (1, 200, "ok", "")
    assert attempt.request_headers["authorization"] == "Bear…"
    assert attempt.task_id


@responses.activate
def test_the_partners_response_headers_are_stored_masked(partner, convert):
    responses.get(URL, headers={"Set-Cookie": "session=partner-session-id", "X-Request-Id": "r-1"})

    convert()

    attempt = DeliveryAttempt.objects.get()
    assert attempt.response_headers["set-cookie"] == "sess…"
    assert attempt.response_headers["x-request-id"] == "r-1"


@responses.activate
def test_a_status_change_is_delivered_with_its_new_status(partner, convert):
    responses.get(URL)

    convert(transaction_id="t1", status="pending")
    convert(transaction_id="t1", status="approved")

    urls = [call.request.url for call in responses.calls]
    assert "status=pending&event=conversion" in urls[0]
    assert "status=approved&event=status_change" in urls[1]


@responses.activate
def test_a_failed_attempt_is_retried_later_not_now(partner, convert):
    responses.get(URL, status=500, body="down")

    delivery = convert()

    delivery.refresh_from_db()
    assert delivery.state == "retrying"
    assert delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now()
    assert (delivery.last_status_code, delivery.last_error) == (500, "HTTP 500 Internal Server Error")
    assert len(responses.calls) == 1


@responses.activate
def test_a_partner_that_fails_twice_then_recovers_has_three_attempts_and_one_success(settings, partner, convert):
    settings.DELIVERY_RETRY_SCHEDULE = [0, 0, 0, 0]
    responses.get(URL, status=500)
    responses.get(URL, status=500)
    responses.get(URL, status=200)

    delivery = convert()

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("succeeded", 3)
    statuses = list(DeliveryAttempt.objects.order_by("number").values_list("response_status", flat=True))
    assert statuses == [500, 500, 200]
    partner.refresh_from_db()
    assert partner.failing_since is None


@responses.activate
def test_attempts_are_bounded_by_the_schedule(settings, partner, convert):
    settings.DELIVERY_RETRY_SCHEDULE = [0, 0, 0]
    responses.get(URL, status=503)

    delivery = convert()

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 3)
    assert delivery.reason == "gave up after 3 attempts: HTTP 503 Service Unavailable"
    assert delivery.finished_at is not None


@responses.activate
def test_410_gone_fails_the_delivery_and_disables_the_partner(partner, convert):
    responses.get(URL, status=410)

    delivery = convert()

    delivery.refresh_from_db()
    partner.refresh_from_db()
    assert delivery.state == "failed"
    assert "410" in delivery.reason
    assert partner.disabled_at is not None
    assert "410 Gone" in partner.disabled_reason


@responses.activate
def test_retry_after_is_honoured_within_bounds(partner, convert):
    responses.get(URL, status=429, headers={"Retry-After": "900"})

    delivery = convert()

    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 850 < wait <= 900


def test_next_delay_follows_the_schedule_with_jitter(settings):
    settings.DELIVERY_RETRY_SCHEDULE = [0, 100, 1000]

    delays = [deliveries.next_delay(1) for _ in range(200)]

    assert 80 <= min(delays) < max(delays) <= 120
    assert deliveries.next_delay(3) is None
    assert deliveries.next_delay(2, retry_after=10**6) == deliveries.RETRY_AFTER_MAX


@responses.activate
def test_a_succeeded_delivery_is_never_sent_again(partner, convert):
    responses.get(URL)
    delivery = convert()

    drain.delay()
    assert deliveries.resend(delivery) is False

    assert len(responses.calls) == 1


@pytest.fixture
def queued(client, network, partner, django_capture_on_commit_callbacks):
    """A pending delivery whose task has not run (the commit's hand-over is held back)."""
    with django_capture_on_commit_callbacks(execute=False):
        client.get(f"/postback/{network.key}/", {"click_id": "c1"})
    outbox.route()
    return Delivery.objects.get()


def test_a_delivery_in_flight_cannot_be_locked_twice(queued):
    assert deliveries.lock(queued.pk) is not None
    assert deliveries.lock(queued.pk) is None


def test_a_stale_in_flight_delivery_is_locked_again(queued):
    Delivery.objects.filter(pk=queued.pk).update(
        state=State.SENDING, locked_until=timezone.now() - timedelta(seconds=1)
    )

    assert deliveries.lock(queued.pk) is not None


def test_a_delivery_not_yet_due_is_not_locked(queued):
    Delivery.objects.filter(pk=queued.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=1))

    assert deliveries.lock(queued.pk) is None


@pytest.mark.parametrize(
    ("state", "next_in", "locked_in", "left"),
    [
        ("pending", -60, None, True),
        ("retrying", -60, None, True),
        ("sending", -60, -1, True),  # its worker died: the lock ran out
        ("pending", 0, None, False),  # within the grace: its wake-up is on its way
        ("retrying", 60, None, False),
        ("sending", -60, 60, False),  # in flight
        ("succeeded", -60, None, False),
        ("parked", -60, None, False),
    ],
)
def test_left_due_sees_each_kind_of_delivery_the_broker_or_a_worker_lost(queued, state, next_in, locked_in, left):
    now = timezone.now()
    Delivery.objects.filter(pk=queued.pk).update(
        state=state,
        next_attempt_at=now + timedelta(seconds=next_in),
        locked_until=None if locked_in is None else now + timedelta(seconds=locked_in),
    )

    assert deliveries.left_due(grace=30) is left


@responses.activate
def test_the_sweep_sends_what_the_broker_lost(settings, partner, convert):
    responses.get(URL, status=500)
    delivery = convert()
    responses.replace(responses.GET, URL, status=200)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))

    sweep.delay()

    delivery.refresh_from_db()
    assert delivery.state == "succeeded"


@responses.activate
def test_the_sweep_leaves_recently_queued_deliveries_to_their_task(partner, convert):
    responses.get(URL, status=500)
    delivery = convert()
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    sweep.delay()

    assert Delivery.objects.get(pk=delivery.pk).attempts == 1


@responses.activate
def test_a_partner_failing_for_days_is_disabled_by_the_sweep(settings, partner, convert):
    responses.get(URL, status=500)
    convert()
    Partner.objects.filter(pk=partner.pk).update(failing_since=timezone.now() - timedelta(days=4))

    sweep.delay()

    partner.refresh_from_db()
    assert partner.disabled_at is not None
    assert partner.disabled_reason.startswith("every delivery has failed since")


@responses.activate
def test_a_delivery_to_a_partner_auto_disabled_meanwhile_is_parked_and_replayed_on_re_enable(partner, convert):
    responses.get(URL, status=500)
    delivery = convert()
    deliveries.disable(partner, "test")
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    drain.delay()

    delivery.refresh_from_db()
    assert delivery.state == "parked"
    assert delivery.reason.startswith("parked: the partner is auto-disabled (test)")
    responses.replace(responses.GET, URL, status=200)
    assert parking.reenable([partner], replay=True) == (1, 1)
    drain.delay()
    delivery.refresh_from_db()
    assert delivery.state == "succeeded"


def test_re_enabling_with_discard_cancels_what_was_parked_with_the_reason(partner, convert, monkeypatch):
    monkeypatch.setattr("partners.forwarding.wake_drainer", outbox.route)
    deliveries.disable(partner, "test")
    delivery = convert()
    assert delivery.state == "parked"

    assert parking.reenable([partner], replay=False, reason="stale by now") == (1, 1)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.reason) == ("cancelled", "discarded when it was re-enabled: stale by now")
    assert Partner.objects.get().disabled_at is None


@responses.activate
def test_a_delivery_to_a_partner_switched_off_meanwhile_is_cancelled(partner, convert):
    responses.get(URL, status=500)
    delivery = convert()
    Partner.objects.filter(pk=partner.pk).update(is_active=False)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())

    drain.delay()

    delivery.refresh_from_db()
    assert (delivery.state, delivery.reason) == ("cancelled", "partner is inactive")


@responses.activate
def test_a_json_post_partner_gets_a_signed_json_body(partner, convert):
    from standardwebhooks.webhooks import Webhook

    secret = generate_secret()
    Partner.objects.filter(pk=partner.pk).update(
        method=Method.POST,
        body_type="json",
        body_template='{"click": "{click_id}", "amount": {payout}, "user": "{username}"}',
        signing_secret=secret,
    )
    responses.post(URL)

    delivery = convert(user_id="bob")

    request = responses.calls[0].request
    assert json.loads(request.body) == {"click": "c 1&2", "amount": 1.4, "user": "bob"}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["webhook-id"] == delivery.webhook_id
    Webhook(secret).verify(request.body, dict(request.headers))


@responses.activate
def test_the_webhook_id_is_stable_across_retries(settings, partner, convert):
    settings.DELIVERY_RETRY_SCHEDULE = [0, 0]
    Partner.objects.filter(pk=partner.pk).update(signing_secret=generate_secret())
    responses.get(URL, status=500)
    responses.get(URL, status=200)

    convert()

    ids = {call.request.headers["webhook-id"] for call in responses.calls}
    assert len(responses.calls) == 2
    assert len(ids) == 1


@responses.activate
def test_a_broker_that_is_down_loses_nothing(monkeypatch, client, network, partner, django_capture_on_commit_callbacks):
    from kombu.exceptions import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("broker down")

    monkeypatch.setattr("partners.tasks.drain.apply_async", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"/postback/{network.key}/", {"click_id": "c1"})
    assert response.json()["success"] is True
    assert (Delivery.objects.count(), outbox.unrouted().count()) == (0, 1)

    # The broker is back; the event waited longer than the sweep's grace.
    monkeypatch.undo()
    outbox.unrouted().update(created_at=timezone.now() - timedelta(minutes=2))
    responses.get(URL)
    sweep()

    assert Delivery.objects.get().state == "succeeded"
    assert not outbox.unrouted().exists()


def test_the_drainer_is_woken_after_commit_only(
    monkeypatch, client, network, partner, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr("partners.tasks.drain.apply_async", lambda args, **kwargs: queued.append(args))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.get(f"/postback/{network.key}/", {"click_id": "c1"})
    assert queued == []
    for callback in callbacks:
        callback()

    assert queued == [()]


def test_an_event_every_partner_skips_is_routed_and_nothing_more_is_queued(
    monkeypatch, client, network, partner, django_capture_on_commit_callbacks
):
    Partner.objects.filter(pk=partner.pk).update(statuses=["reversed"])
    queued = []
    monkeypatch.setattr("partners.tasks.drain.apply_async", lambda args, **kwargs: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        client.get(f"/postback/{network.key}/", {"click_id": "c1"})
    assert queued == [()]  # the drainer, to route the event

    drain.apply()

    assert Delivery.objects.get().state == "skipped"
    assert queued == [()]


def test_a_skipped_delivery_is_not_resent(queued):
    Delivery.objects.filter(pk=queued.pk).update(state=State.SKIPPED, reason="filtered")

    assert deliveries.resend(queued) is False


def test_a_partner_with_deliveries_cannot_be_deleted(queued):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        queued.destination.delete()


@responses.activate
def test_a_per_offer_share_replaces_the_default_share(partner, convert, click):
    OfferShare.objects.create(partner=partner, offer=click.offer, share_type="fixed", share_value=Decimal("0.30"))
    responses.get(URL)

    convert(click_id=click.click_id)
    convert(click_id="no-offer")

    urls = [call.request.url for call in responses.calls]
    assert "amount=0.30&" in urls[0]
    assert "amount=1.40&" in urls[1]


@responses.activate
def test_a_house_basis_partner_is_paid_from_the_converted_amount(partner, convert, client, network):
    from receiver.models import ExchangeRate

    ExchangeRate.objects.create(currency="EUR", date=timezone.now().date(), rate=Decimal("1.10"))
    Partner.objects.filter(pk=partner.pk).update(
        payout_basis="house", postback_url=URL + "?amount={payout}&gross={gross_payout}&cur={currency}"
    )
    responses.get(URL)

    convert(currency="EUR", payout="10")
    convert(currency="GBP", payout="10", click_id="c2")

    urls = [call.request.url for call in responses.calls]
    # no GBP rate yet: the partner is paid in the house currency or not yet, never in pounds
    assert urls == [URL + "?amount=7.70&gross=11.00&cur=USD"]
    assert Delivery.objects.get(event__conversion__click_id="c2").state == "waiting_rate"
