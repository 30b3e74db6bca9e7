"""A network's own acknowledgements: the exact answer it checks per outcome; retryable refusals stay JSON."""

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from receiver.acknowledgements import AckError, validate
from receiver.models import Network, ReceivedPostback

WANNADS = {"accepted": {"body": "OK"}, "duplicate": {"body": "DUP"}}


def network_with(acks, **fields):
    network = Network(name="Acked", acknowledgements=acks, **fields)
    network.full_clean()
    network.save()
    return network


def send(client, network, **params):
    return client.get(f"/postback/{network.key}/", {"click_id": "c1", "transaction_id": "t1", **params})


def test_a_network_is_answered_the_exact_body_it_checks_for_a_conversion_and_a_duplicate(client, db):
    network = network_with(WANNADS)

    first, again = send(client, network), send(client, network)

    assert (first.status_code, first.content, first["Content-Type"]) == (200, b"OK", "text/plain; charset=utf-8")
    assert (again.status_code, again.content) == (200, b"DUP")
    assert list(ReceivedPostback.objects.order_by("id").values_list("outcome", flat=True)) == ["accepted", "duplicate"]


def test_a_status_change_without_its_own_acknowledgement_keeps_the_json_answer(client, db):
    network = network_with({"accepted": {"body": "1"}})
    send(client, network, status="pending")

    answer = send(client, network, status="approved")

    assert answer.json()["message"] == "Status changed to approved"


def test_invalid_input_can_be_answered_as_a_network_reads_stop_retrying(client, db):
    network = network_with({"rejected": {"status": 403, "body": "invalid"}})  # Tapjoy reads 403 as "stop"

    answer = send(client, network, payout="lots")

    assert (answer.status_code, answer.content) == (403, b"invalid")
    row = ReceivedPostback.objects.get()
    assert (row.reason, row.http_status) == ("invalid_payout", 403)


def test_a_bad_signature_is_answered_the_networks_way(client, db):
    recipe = {"scheme": "token", "in": "query:secure"}
    network = network_with(
        {"bad_signature": {"status": 403, "body": "bad hash"}}, hmac_secret="s" * 16, signature=recipe
    )

    answer = send(client, network, secure="guess")

    assert (answer.status_code, answer.content) == (403, b"bad hash")


@override_settings(RECEIVER_RATE_LIMIT="1/m")
def test_a_refusal_sending_again_can_fix_stays_the_json_contracts(client, db):
    network = network_with({"rejected": {"status": 200, "body": "1"}, "accepted": {"body": "1"}})
    send(client, network)

    limited = send(client, network, transaction_id="t2")

    assert (limited.status_code, limited.json()["reason"]) == (429, "rate_limited")


@pytest.mark.parametrize(
    ("acks", "message"),
    [
        ({"duplicate": {"status": 409}}, "a duplicate is always acknowledged as a success"),
        ({"refunded": {"body": "1"}}, "'refunded' is not an outcome"),
        ({"accepted": {"status": 99}}, "status 99 is not an HTTP status"),
        ({"accepted": {"body": "1", "headers": {}}}, "an acknowledgement has status, body and content_type"),
        ([], "acknowledgements are a JSON object"),
    ],
)
def test_acknowledgements_are_checked_when_they_are_saved(acks, message):
    with pytest.raises(AckError, match=message):
        validate(acks)


def test_the_admin_form_names_a_bad_acknowledgement(db):
    with pytest.raises(ValidationError, match="not an outcome"):
        network_with({"approved": {"body": "1"}})


def test_an_acknowledgement_body_names_the_postbacks_own_parameters(client, network, postback_url):
    network.acknowledgements = {"accepted": {"body": "{eventId}:OK"}, "duplicate": {"body": "{eventId}:OK{absent}"}}
    network.param_mapping = {"click_id": "eventId"}
    network.save()

    first = client.get(postback_url, {"eventId": "ev-9"})
    again = client.get(postback_url, {"eventId": "ev-9"})

    assert (first.content, again.content) == (b"ev-9:OK", b"ev-9:OK")
