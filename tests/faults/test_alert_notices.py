"""The partner gone past the alert threshold: the operator hears once that it is failing and once that it is back.

A live server (gunicorn), a real worker running beat's alert checks every half second, the partner (a local sink)
behind a proxy the test takes down, and the operator's webhook another local sink; the emails go to files.
"""

import json
import time

import pytest

from partners.models import Delivery, Partner, State
from tests.support.mailbox import Mailbox
from tests.support.proxy import TcpProxy
from tests.support.sink import Sink

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHECK_EVERY = 0.5
FAILURE_MINUTES = 0.1  # a six-second window
# Many checks while the partner is down and the alert open: one notice per check would show.
OUTAGE = 15
ARRIVAL_EVERY = 0.5


@pytest.fixture
def operator():
    with Sink() as hook:
        yield hook


@pytest.fixture
def partner_proxy(sink):
    proxy = TcpProxy(("127.0.0.1", sink.port)).up()
    yield proxy
    proxy.close()


def post(server, network, n):
    return server.get(f"/postback/{network.key}/", params={"click_id": f"c-{n}", "transaction_id": f"t-{n}"})


def test_a_partner_down_past_the_threshold_is_one_failing_notice_and_one_recovered_notice(
    network, sink, operator, partner_proxy, servers, workers, tmp_path, wait_until
):
    host, port = partner_proxy.address
    Partner.objects.create(name="Publisher", postback_url=f"http://{host}:{port}/pb?click={{click_id}}")
    mailbox = Mailbox(tmp_path / "mail")
    server = servers.start()
    workers.start(
        beat=True,
        ALERT_CHECK_EVERY=CHECK_EVERY,
        ALERT_FAILURE_MINUTES=FAILURE_MINUTES,
        ALERT_FAILURE_MIN_ATTEMPTS=3,
        ALERT_BACKLOG_SECONDS=3600,
        ALERT_EMAILS="ops@example.com",
        ALERT_WEBHOOK_URL=operator.url("/alerts"),
        DELIVERY_RETRY_SCHEDULE=",".join(["0"] + ["1"] * 40),
        DELIVERY_BREAKER_PROBE_SECONDS=1,
        DELIVERY_BREAKER_PROBE_MAX=1,
        DELIVERY_SWEEP_EVERY=1,
        DELIVERY_SWEEP_GRACE=1,
        **mailbox.env,
    )
    # given a partner that takes deliveries
    assert post(server, network, 0).json()["success"]
    wait_until(lambda: len(sink.received) == 1, "the first delivery")

    # when it is unreachable for longer than the failure window while postbacks keep arriving
    partner_proxy.down()
    n, stopped = 1, time.monotonic()
    while time.monotonic() - stopped < OUTAGE:
        assert post(server, network, n).json()["success"]
        n += 1
        time.sleep(ARRIVAL_EVERY)
    opened_during_outage = [request.headers.get("webhook-id") for request in operator.received]
    partner_proxy.up()

    # then every postback reaches it once it is back
    wait_until(lambda: Delivery.objects.filter(state=State.SUCCEEDED).count() == n, "every delivery", timeout=120)
    wait_until(lambda: len(operator.received) >= 2, "the recovered notice")
    time.sleep(6 * CHECK_EVERY)

    # and the operator heard exactly once that it was failing and once that it recovered, by webhook and email
    notices = [json.loads(request.body) for request in operator.received]
    assert [(notice["type"], notice["kind"]) for notice in notices] == [
        ("alert.opened", "partner_failing"),
        ("alert.closed", "partner_failing"),
    ]
    assert len(opened_during_outage) == 1
    subjects = mailbox.subjects()
    assert len(subjects) == 2
    assert subjects[0].startswith("[postback hub] partner failing: partner Publisher:")
    assert subjects[1].startswith("[postback hub] recovered: partner failing (partner:")
