"""The counters move where rows are recorded, the gauges read the database, and no label carries a click id."""

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from partners.models import Breaker, Delivery, DestinationHealth, Partner, State
from receiver.models import Network
from tests.support.scrape import TOKEN, samples, value

URL = "https://p.example/pb"
CLICK = "click-4f1e9a77"


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def read():
        answer = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200
        return samples(answer.content.decode())

    return read


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="Pub", slug="pub", postback_url=URL + "?click={click_id}", share_value=70)


@pytest.fixture
def send(client, network, django_capture_on_commit_callbacks):
    """A postback through the receiver, with what its commit hands over (the sends) run in-process."""

    def post(**params):
        with django_capture_on_commit_callbacks(execute=True):
            return client.get(f"/postback/{network.key}/", {"click_id": CLICK, "payout": "2.50", **params})

    return post


def test_a_received_postback_counts_by_network_outcome_and_reason(network, send, scrape):
    labels = {"network": network.pk, "source": "postback"}
    before = scrape()

    send(transaction_id="t1")
    send(transaction_id="t1")
    send(transaction_id="t2", payout="lots")
    after = scrape()

    def moved(outcome, reason=""):
        sample = {**labels, "outcome": outcome, "reason": reason}
        return value(after, "postbacks_received_total", **sample) - value(before, "postbacks_received_total", **sample)

    assert (moved("accepted"), moved("duplicate"), moved("rejected", "invalid_payout")) == (1, 1, 1)


def test_an_unknown_key_counts_under_no_network(client, db, scrape):
    labels = {"network": "none", "source": "postback", "outcome": "rejected", "reason": "unknown_key"}
    before = value(scrape(), "postbacks_received_total", **labels)

    client.get("/postback/not-a-key/", {"click_id": CLICK})

    assert value(scrape(), "postbacks_received_total", **labels) == before + 1


def test_the_receivers_answers_are_timed_by_source_and_status(client, network, send, scrape):
    before = scrape()

    send(transaction_id="t1")
    client.get("/postback/not-a-key/", {"click_id": CLICK})
    after = scrape()

    name = "postback_request_duration_seconds_count"
    assert value(after, name, source="postback", status=200) - value(before, name, source="postback", status=200) == 1
    assert value(after, name, source="postback", status=404) - value(before, name, source="postback", status=404) == 1


def test_conversions_count_each_status_reached_and_payout_nets_to_what_is_approved(network, send, scrape):
    money = {"network": network.pk, "currency": "USD"}
    before = scrape()

    send(transaction_id="t1", status="pending")
    send(transaction_id="t1", status="approved")
    send(transaction_id="t2", status="approved", payout="4.00")
    send(transaction_id="t2", status="reversed")
    after = scrape()

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("conversions_total", network=network.pk, status="pending") == 1
    assert moved("conversions_total", network=network.pk, status="approved") == 2
    assert moved("conversions_total", network=network.pk, status="reversed") == 1
    assert moved("payout_total", **money) == pytest.approx(6.50)
    assert moved("payout_taken_back_total", **money) == pytest.approx(4.00)


def test_a_test_conversion_moves_no_conversion_or_payout_counter(network, send, scrape):
    before = scrape()

    send(transaction_id="t1", status="test")
    after = scrape()

    assert value(after, "payout_total", network=network.pk, currency="USD") == value(
        before, "payout_total", network=network.pk, currency="USD"
    )
    assert value(after, "conversions_total", network=network.pk, status="approved") == value(
        before, "conversions_total", network=network.pk, status="approved"
    )


@responses.activate
def test_a_recorded_delivery_counts_its_attempts_duration_and_final_state(partner, send, scrape, settings):
    settings.DELIVERY_RETRY_SCHEDULE = [0]  # one attempt: a failure closes the delivery
    responses.get(URL, body="ok")
    responses.get(URL, status=503)
    before = scrape()

    send(transaction_id="t1")
    send(transaction_id="t2")
    after = scrape()

    def moved(name, **labels):
        return value(after, name, partner=partner.pk, **labels) - value(before, name, partner=partner.pk, **labels)

    assert sorted(Delivery.objects.values_list("state", flat=True)) == ["failed", "succeeded"]
    assert moved("delivery_attempts_total", result="success") == 1
    assert moved("delivery_attempts_total", result="http_5xx") == 1
    assert (moved("deliveries_total", state="succeeded"), moved("deliveries_total", state="failed")) == (1, 1)
    assert moved("delivery_attempt_duration_seconds_count") == 2


@responses.activate
def test_no_label_carries_a_click_id_a_key_or_a_url(network, partner, send, scrape):
    responses.get(URL, body="ok")

    send(transaction_id="t1")
    send(transaction_id="t1", payout="x")
    found = scrape()

    label_values = {label for _name, labels in found for _key, label in labels}
    assert CLICK not in label_values
    assert not any(CLICK in label or network.key in label or "p.example" in label for label in label_values)


def test_the_gauges_show_the_backlog_parked_deliveries_and_partners_health(network, partner, send, scrape):
    send(transaction_id="t1")  # no mocked partner: responses is off, the send fails and waits for its retry
    late = timezone.now() - timedelta(seconds=120)
    Delivery.objects.update(state=State.RETRYING, next_attempt_at=late, locked_until=None)
    parked = Partner.objects.create(name="Gone", slug="gone", postback_url=URL, disabled_at=timezone.now())
    Delivery.objects.create(event=Delivery.objects.get().event, destination=parked, state=State.PARKED)
    DestinationHealth.objects.update_or_create(destination=partner, defaults={"breaker": Breaker.OPEN})

    found = scrape()

    assert value(found, "deliveries_due", partner=partner.pk) == 1
    assert value(found, "deliveries_due_oldest_age_seconds", partner=partner.pk) >= 120
    assert value(found, "deliveries_parked", partner=parked.pk) == 1
    assert value(found, "partner_breaker_open", partner=partner.pk) == 1
    assert value(found, "partner_auto_disabled", partner=parked.pk) == 1
    assert (value(found, "partners_breaker_open"), value(found, "partners_auto_disabled")) == (1, 1)
    assert value(found, "partner_info", partner=partner.pk, slug="pub", name="Pub") == 1


def test_each_active_networks_silence_counts_from_its_last_postback_that_was_not_rejected(network, send, scrape):
    quiet = Network.objects.create(name="Quiet")
    send(transaction_id="t1")
    network.postbacks.update(received_at=timezone.now() - timedelta(hours=2))
    send(transaction_id="t2", payout="x")  # rejected: the network is no less silent

    found = scrape()

    assert value(found, "network_last_postback_age_seconds", network=network.pk) >= 7200
    assert ("network_last_postback_age_seconds", frozenset({("network", str(quiet.pk))})) not in found
    assert value(found, "network_info", network=quiet.pk, name="Quiet") == 1
    assert value(found, "metrics_database_ok") == 1
