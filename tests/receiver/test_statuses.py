"""Every status word a network may send, normalised to our four statuses (plus the test flag)."""

import pytest

from receiver.lifecycle import SYNONYMS, Status
from receiver.models import Conversion

WORDS = [(word, status) for status, words in SYNONYMS.items() for word in words]


@pytest.mark.parametrize(("word", "expected"), WORDS)
def test_each_status_word_is_normalised(client, postback_url, word, expected):
    if expected == Status.REVERSED:  # a reversal lands on a conversion; it never creates one
        client.get(postback_url, {"click_id": "c1"})
    client.get(postback_url, {"click_id": "c1", "status": word})

    assert Conversion.objects.get().status == expected


@pytest.mark.parametrize("word", ["APPROVED", " Chargeback ", "On-Hold", "on hold"])
def test_status_words_ignore_case_spaces_and_dashes(client, postback_url, word):
    client.get(postback_url, {"click_id": "c1", "status": "pending"})
    response = client.get(postback_url, {"click_id": "c1", "status": word}).json()

    assert response["success"] is True


def test_no_status_means_approved(client, postback_url):
    client.get(postback_url, {"click_id": "c1"})

    assert Conversion.objects.get().status == Status.APPROVED


def test_status_test_is_an_approved_test_conversion(client, postback_url):
    body = client.get(postback_url, {"click_id": "TEST-123", "status": "test", "payout": "1.00"}).json()

    conversion = Conversion.objects.get()
    assert (conversion.status, conversion.is_test) == (Status.APPROVED, True)
    assert body["test"] is True


def test_an_unknown_status_is_rejected_with_the_words_we_know(client, postback_url):
    body = client.get(postback_url, {"click_id": "c1", "status": "maybe"}).json()

    assert (body["success"], body["reason"]) == (False, "invalid_status")
    assert "chargeback" in body["message"]
    assert not Conversion.objects.exists()


def test_a_network_status_mapping_wins_over_the_common_words(client, network, postback_url):
    network.status_mapping = {"1": "pending", "2": "approved"}
    network.save()

    client.get(postback_url, {"click_id": "c1", "status": "1"})

    assert Conversion.objects.get().status == Status.PENDING


def test_a_mapped_status_is_found_whatever_its_case(client, network, postback_url):
    network.status_mapping = {"Done": "approved", "Hold": "pending"}
    network.save()

    client.get(postback_url, {"click_id": "c1", "status": "HOLD"})

    assert Conversion.objects.get().status == Status.PENDING


def test_an_exact_mapping_key_wins_over_one_that_differs_in_case(client, network, postback_url):
    network.status_mapping = {"r": "rejected", "R": "reversed"}
    network.save()
    client.get(postback_url, {"click_id": "c1"})

    client.get(postback_url, {"click_id": "c1", "status": "R"})

    assert Conversion.objects.get().status == Status.REVERSED
