"""A live server's /metrics over HTTP, read with prometheus_client's parser: the web's and the worker's counters."""

import pytest
import requests

from partners.models import Delivery, Partner, State
from tests.support.scrape import TOKEN, samples, value

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def scrape(live_server):
    answer = requests.get(f"{live_server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return samples(answer.text)


def test_a_scrape_sums_the_web_and_the_workers_counters(live_server, network, sink, workers, wait_until, settings):
    settings.METRICS_TOKEN = TOKEN
    partner = Partner.objects.create(name="Pub", slug="pub", postback_url=sink.url("/pb?click={click_id}"))
    # The worker writes its counters into the same folder as this process (the live server's), as on one machine.
    workers.start(PROMETHEUS_MULTIPROC_DIR=settings.METRICS_DIR)
    before = scrape(live_server)

    answer = requests.get(f"{live_server.url}/postback/{network.key}/", {"click_id": "c-1", "payout": "3"}, timeout=10)
    assert answer.json()["success"], answer.text
    wait_until(lambda: Delivery.objects.filter(state=State.SUCCEEDED).exists(), "the delivery to succeed")
    after = scrape(live_server)

    def moved(metric, **labels):
        return value(after, metric, **labels) - value(before, metric, **labels)

    received = {"network": network.pk, "source": "postback", "outcome": "accepted", "reason": ""}
    assert moved("postbacks_received_total", **received) == 1
    assert moved("payout_total", network=network.pk, currency="USD") == 3
    assert moved("deliveries_total", partner=partner.pk, state="succeeded") == 1
    assert moved("delivery_attempts_total", partner=partner.pk, result="success") == 1
    assert value(after, "deliveries_due", partner=partner.pk) == 0
    assert value(after, "network_last_postback_age_seconds", network=network.pk) < 60
