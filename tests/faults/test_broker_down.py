"""The broker stopped for 30 s while postbacks keep arriving: each is accepted, stored, and delivered once it is back.

The broker is a private redis-server (the shared one is never stopped); the server is gunicorn, the worker runs the
beat-scheduled sweep that re-queues what could not be queued while the broker was away.
"""

import time

import pytest

from partners.models import Delivery, DeliveryAttempt, Partner, State
from partners.signing import generate_secret
from receiver.models import Conversion, Outcome, ReceivedPostback
from tests.support.redis_server import RedisServer
from tests.support.sink import Reply

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OUTAGE = 30  # seconds, as the issue states the fault
ARRIVAL_EVERY = 0.25  # seconds between postbacks during the outage: a steady stream, about 120 of them
HEALTH = "/api/postback/health"


@pytest.fixture
def private_redis(tmp_path):
    redis = RedisServer(tmp_path / "redis.log").start()
    yield redis
    redis.stop()


def post(server, network, n):
    return server.get(f"/postback/{network.key}/", params={"click_id": f"c-{n}", "transaction_id": f"t-{n}"})


def test_postbacks_arriving_while_the_broker_is_down_are_accepted_and_delivered_once_it_is_back(
    network, sink, servers, workers, private_redis, wait_until
):
    partner = Partner.objects.create(
        name="Publisher", postback_url=sink.url("/pb?click={click_id}"), signing_secret=generate_secret()
    )
    broker = {"CELERY_BROKER_URL": private_redis.url}
    server = servers.start(**broker)
    workers.start(beat=True, DELIVERY_SWEEP_EVERY=1, DELIVERY_SWEEP_GRACE=1, **broker)
    # given a hub forwarding a postback: the broker stops while the partner has that request in flight
    sink.script(Reply(on_arrival=private_redis.stop))
    assert post(server, network, 0).json()["success"]
    wait_until(lambda: Delivery.objects.filter(state=State.SUCCEEDED).exists(), "the first postback's delivery")

    # when postbacks keep arriving while the broker is down
    stopped = time.monotonic()
    health = server.get(HEALTH)
    answers = []
    while time.monotonic() - stopped < OUTAGE:
        answers.append(post(server, network, len(answers) + 1))
        time.sleep(ARRIVAL_EVERY)  # pacing the arrivals, not waiting for a condition
    received_during_outage = len(sink.received)
    private_redis.start()

    # then health named the broker, not the database
    assert health.status_code == 503
    assert health.json()["checks"]["broker"]["ok"] is False
    assert health.json()["checks"]["database"]["ok"] is True
    # and every postback was answered 200 accepted and stored, with its delivery waiting
    assert [a.status_code for a in answers] == [200] * len(answers)
    assert all(a.json()["success"] and not a.json().get("duplicate") for a in answers)
    stored = ReceivedPostback.objects.filter(outcome=Outcome.ACCEPTED)
    assert stored.count() == Conversion.objects.count() == len(answers) + 1
    assert received_during_outage == 1, "something reached the partner with no broker"
    # and once the broker is back the sweep has them all delivered, each once by webhook-id
    wait_until(
        lambda: Delivery.objects.filter(state=State.SUCCEEDED).count() == len(answers) + 1,
        f"the {len(answers)} postbacks of the outage to be delivered after it",
        timeout=120,
    )
    ids = sink.webhook_ids()
    assert sorted(ids) == sorted(partner.deliveries.values_list("webhook_id", flat=True))
    assert DeliveryAttempt.objects.count() == len(answers) + 1
    assert server.get(HEALTH).status_code == 200
    print(f"\n{len(answers)} postbacks during a {OUTAGE} s broker outage, all accepted and delivered once")
