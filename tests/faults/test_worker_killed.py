"""A worker killed with SIGKILL in the middle of 1,000 deliveries: a new worker and the sweep finish them, once each."""

import collections
import time

import pytest

from partners import outbox
from partners.models import Delivery, DeliveryAttempt, Partner, State
from partners.signing import generate_secret
from tests.support.sink import Reply

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DELIVERIES = 1000
KILL_AT = 400  # the partner's 400th request kills the worker while that request is in flight
# The first worker's claims are locked for 2 x OUTBOUND_TIMEOUT + DELIVERY_LOCK_MARGIN: 3 s, then swept. The second
# keeps the defaults (80 s), so that none of its own sends, slow on a busy machine, is taken over while in flight.
SHORT_LOCK = {"OUTBOUND_TIMEOUT": 1, "DELIVERY_LOCK_MARGIN": 1}


def test_every_delivery_succeeds_once_after_the_worker_is_killed_mid_run(
    settings, client, network, sink, workers, wait_until, record_property
):
    settings.RECEIVER_RATE_LIMIT = None
    partner = Partner.objects.create(
        name="Publisher", postback_url=sink.url("/pb?click={click_id}"), signing_secret=generate_secret()
    )
    # given 1,000 conversions queued through the receiver while no worker runs
    started = time.monotonic()
    for n in range(DELIVERIES):
        answer = client.get(f"/postback/{network.key}/", {"click_id": f"c-{n}", "transaction_id": f"t-{n}"})
        assert answer.json()["success"], answer.content
    posted = time.monotonic() - started
    assert outbox.unrouted().count() == DELIVERIES  # the worker routes them into their deliveries

    # when the worker sending them is killed mid-run, with requests in flight
    sink.script(*[Reply()] * (KILL_AT - 1), Reply(on_arrival=lambda: workers.started[0].kill()))
    first = workers.start(**SHORT_LOCK)
    wait_until(lambda: not first.alive, f"the first worker to be killed at the partner's request {KILL_AT}")
    in_flight = Delivery.objects.filter(state=State.SENDING).count()
    assert in_flight, "the killed worker left no delivery in flight"
    # and a new one starts, with the beat-scheduled sweep for what the dead one held
    workers.start(beat=True, DELIVERY_SWEEP_EVERY=1, DELIVERY_SWEEP_GRACE=1)

    # then every delivery succeeds, each with exactly one successful attempt
    wait_until(
        lambda: Delivery.objects.filter(state=State.SUCCEEDED).count() == DELIVERIES,
        f"all {DELIVERIES} deliveries to succeed after the restart",
        timeout=180,
    )
    successes = DeliveryAttempt.objects.filter(response_status=200)
    per_delivery = collections.Counter(successes.values_list("delivery_id", flat=True))
    assert len(per_delivery) == DELIVERIES
    assert set(per_delivery.values()) == {1}
    # and the partner saw every delivery at least once. Delivery is at-least-once: a request in flight when the
    # worker died is sent again with the same webhook-id, on which the partner dedupes.
    ids = sink.webhook_ids()
    assert set(ids) == set(partner.deliveries.values_list("webhook_id", flat=True))
    assert len(set(ids)) == DELIVERIES
    duplicates = len(ids) - DELIVERIES
    # Only a delivery left 'sending' by the dead worker can have reached the partner without its success recorded.
    assert duplicates <= in_flight
    record_property("raw_duplicates", duplicates)
    record_property("in_flight_at_kill", in_flight)
    print(
        f"\n{DELIVERIES} deliveries: posted in {posted:.1f} s; {in_flight} in flight at the kill; "
        f"the partner saw {len(ids)} requests, {duplicates} of them repeats (same webhook-id)"
    )
