"""A worker killed with SIGKILL between locking a batch and recording it: once the lock runs out a new worker sends
that batch again, every delivery succeeds exactly once, and none that had succeeded is sent again."""

import collections
import threading

import pytest

from partners.models import Delivery, DeliveryAttempt, Partner, State
from partners.signing import generate_secret
from tests.support.sink import Reply

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DELIVERIES = 20
ANSWERED = 8  # the partner answers its first requests at once,
HELD = 4  # then holds the next ones (its concurrency limit: the whole of what is in flight) until the worker is dead
# The first worker's locks run out after 2 x OUTBOUND_TIMEOUT + DELIVERY_LOCK_MARGIN = 11 s: long enough for the held
# requests not to time out before the kill, short enough for the test. The second keeps the defaults.
FIRST_WORKER = {"OUTBOUND_TIMEOUT": 5, "DELIVERY_LOCK_MARGIN": 1}


def test_a_batch_locked_by_a_killed_worker_is_sent_again_after_its_lock_and_succeeds_once(
    settings, client, network, sink, workers, wait_until
):
    settings.RECEIVER_RATE_LIMIT = None
    partner = Partner.objects.create(
        name="Publisher",
        postback_url=sink.url("/pb?click={click_id}"),
        signing_secret=generate_secret(),
        max_concurrency=HELD,
    )
    release = threading.Event()
    sink.script(*[Reply()] * ANSWERED, *[Reply(on_arrival=lambda: release.wait(60))] * HELD)
    # given conversions queued through the receiver, and a worker whose partner holds its last requests in flight
    for n in range(DELIVERIES):
        answer = client.get(f"/postback/{network.key}/", {"click_id": f"c-{n}", "transaction_id": f"t-{n}"})
        assert answer.json()["success"], answer.content
    first = workers.start(**FIRST_WORKER)
    wait_until(
        lambda: (
            len(sink.received) == ANSWERED + HELD
            and Delivery.objects.filter(state=State.SUCCEEDED).count() == ANSWERED
            and Delivery.objects.filter(state=State.SENDING).count() == HELD
        ),
        f"{ANSWERED} deliveries recorded and {HELD} held in flight",
    )

    # when the worker is killed between the lock of the held ones and their record
    first.kill()
    release.set()
    held = dict(Delivery.objects.filter(state=State.SENDING).values_list("webhook_id", "locked_until"))
    succeeded_before = set(Delivery.objects.filter(state=State.SUCCEEDED).values_list("webhook_id", flat=True))
    assert len(held) == HELD
    assert not DeliveryAttempt.objects.filter(delivery__webhook_id__in=held).exists()
    # and a new worker starts, with the beat-scheduled sweep that finds locks run out
    workers.start(beat=True, DELIVERY_SWEEP_EVERY=1, DELIVERY_SWEEP_GRACE=1)

    # then every delivery succeeds, with exactly one successful attempt each
    wait_until(
        lambda: Delivery.objects.filter(destination=partner, state=State.SUCCEEDED).count() == DELIVERIES,
        f"all {DELIVERIES} deliveries to succeed after the restart",
        timeout=120,
    )
    successes = DeliveryAttempt.objects.filter(response_status=200)
    assert sorted(collections.Counter(successes.values_list("delivery_id", flat=True)).values()) == [1] * DELIVERIES
    # and the held ones were sent again, only once their lock had run out
    sent = collections.Counter(sink.webhook_ids())
    assert {webhook_id: sent[webhook_id] for webhook_id in held} == dict.fromkeys(held, 2)
    for webhook_id, locked_until in held.items():
        assert successes.get(delivery__webhook_id=webhook_id).created_at > locked_until
    # and no delivery that had succeeded was sent again; the others were sent once
    assert {webhook_id: sent[webhook_id] for webhook_id in succeeded_before} == dict.fromkeys(succeeded_before, 1)
    assert sum(sent.values()) == DELIVERIES + HELD
