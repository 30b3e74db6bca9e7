"""Duplicates are decided by the database; a new status is an event handed to forwarding once."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client, override_settings

from receiver.models import Conversion, ConversionEvent, ReceivedPostback
from receiver.signals import conversion_event_created


@pytest.fixture
def handed_over():
    events = []

    def collect(sender, event, **kwargs):
        events.append(event.pk)

    conversion_event_created.connect(collect)
    yield events
    conversion_event_created.disconnect(collect)


def test_the_same_postback_twice_is_one_conversion(client, postback_url):
    params = {"click_id": "c1", "transaction_id": "t1", "payout": "2"}

    client.get(postback_url, params)
    client.get(postback_url, params)

    assert Conversion.objects.count() == 1
    assert list(ReceivedPostback.objects.order_by("id").values_list("outcome", flat=True)) == ["accepted", "duplicate"]


def test_a_new_transaction_id_on_the_same_click_is_a_new_conversion(client, postback_url):
    client.get(postback_url, {"click_id": "c1", "transaction_id": "t1"})
    client.get(postback_url, {"click_id": "c1", "transaction_id": "t2"})

    assert Conversion.objects.count() == 2


def test_the_conversion_id_dedupes_when_there_is_no_transaction_id(client, postback_url):
    client.get(postback_url, {"click_id": "c1", "conversion_id": "cv1"})
    client.get(postback_url, {"click_id": "c1", "conversion_id": "cv1"})
    client.get(postback_url, {"click_id": "c1", "conversion_id": "cv2"})

    assert Conversion.objects.count() == 2


def test_the_same_click_on_two_networks_is_two_conversions(client, postback_url, db):
    from receiver.models import Network

    other = Network.objects.create(name="Other")

    client.get(postback_url, {"click_id": "c1"})
    client.get(f"/postback/{other.key}/", {"click_id": "c1"})

    assert Conversion.objects.count() == 2


def test_duplicate_with_new_status_is_a_status_change_event(client, postback_url):
    client.get(postback_url, {"click_id": "c1", "transaction_id": "t1", "status": "pending", "payout": "0"})

    body = client.get(
        postback_url, {"click_id": "c1", "transaction_id": "t1", "status": "approved", "payout": "3.10"}
    ).json()

    conversion = Conversion.objects.get()
    assert (conversion.status, conversion.payout) == ("approved", Decimal("3.10"))
    assert body["message"] == "Status changed to approved"
    change = ConversionEvent.objects.get(kind="status_change")
    assert (change.from_status, change.to_status, change.payout) == ("pending", "approved", Decimal("3.10"))
    assert ReceivedPostback.objects.order_by("-id").first().outcome == "status_change"


def test_a_status_change_without_a_payout_keeps_the_payout(client, postback_url):
    client.get(postback_url, {"click_id": "c1", "payout": "5"})

    client.get(postback_url, {"click_id": "c1", "status": "chargeback"})

    conversion = Conversion.objects.get()
    assert (conversion.status, conversion.payout) == ("reversed", Decimal("5"))


def test_every_status_change_is_recorded(client, postback_url):
    for status in ["pending", "approved", "approved", "reversed"]:
        client.get(postback_url, {"click_id": "c1", "status": status})

    events = ConversionEvent.objects.order_by("id").values_list("kind", "from_status", "to_status")
    assert list(events) == [
        ("created", "", "pending"),
        ("status_change", "pending", "approved"),
        ("status_change", "approved", "reversed"),
    ]


def test_the_hand_over_fires_once_per_accepted_event_and_never_for_a_duplicate(client, postback_url, handed_over):
    client.get(postback_url, {"click_id": "c1", "status": "pending"})
    client.get(postback_url, {"click_id": "c1", "status": "pending"})
    client.get(postback_url, {"click_id": "c1", "status": "approved"})
    client.get(postback_url, {"payout": "1"})

    assert handed_over == list(ConversionEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(handed_over) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(RECEIVER_RATE_LIMIT="")
def test_a_hundred_concurrent_identical_postbacks_create_one_conversion(network):
    url = f"/postback/{network.key}/"
    params = {"click_id": "race", "transaction_id": "t1", "payout": "1.00"}
    barrier = threading.Barrier(100)
    answers, errors = [], []

    def send():
        try:
            barrier.wait()
            # A server short of connections answers 503 and the sender retries, as a network would.
            for _ in range(50):
                response = Client().get(url, params)
                connection.close()
                if response.status_code != 503:
                    break
                time.sleep(0.05)
            answers.append(response.json())
        except Exception as exc:  # collected so that the main thread can report it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Conversion.objects.count() == 1
    assert ConversionEvent.objects.count() == 1
    assert sum(1 for a in answers if a.get("duplicate")) == 99
    assert ReceivedPostback.objects.filter(outcome="accepted").count() == 1
    assert ReceivedPostback.objects.filter(outcome="duplicate").count() == 99
