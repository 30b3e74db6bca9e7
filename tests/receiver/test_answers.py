"""Every answer of the receiver contract, and that each request is stored with its reason."""

import hashlib
import hmac

import pytest
from django.db import OperationalError, connection
from django.test import override_settings

from receiver.models import Conversion, ReceivedPostback


def last_row():
    return ReceivedPostback.objects.order_by("-id").first()


def test_it_accepts_a_postback_and_answers_the_contract(client, postback_url, click):
    response = client.get(postback_url, {"click_id": click.click_id, "payout": "1.25", "transaction_id": "t1"})

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["clickId"] == click.click_id
    assert body["processingTime"].endswith("ms")
    row = ReceivedPostback.objects.get(pk=body["postbackId"])
    assert row.outcome == "accepted"
    assert row.conversion_id == body["conversionId"]


def test_it_answers_a_duplicate_with_the_duplicate_flag(client, postback_url):
    params = {"click_id": "c1", "transaction_id": "t1"}
    first = client.get(postback_url, params).json()

    second = client.get(postback_url, params).json()

    assert second["success"] is True
    assert second["duplicate"] is True
    assert second["conversionId"] == first["conversionId"]
    assert ReceivedPostback.objects.get(pk=second["postbackId"]).outcome == "duplicate"


def test_invalid_input_is_a_200_with_the_received_params(client, postback_url, network):
    response = client.get(postback_url, {"payout": "1", "sub": "x"})

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "success": False,
        "message": "click_id is required (also accepted as clickid)",
        "reason": "missing_click_id",
        "postbackId": body["postbackId"],
        "received_params": ["payout", "sub"],
    }
    row = last_row()
    assert (row.outcome, row.reason, row.network) == ("rejected", "missing_click_id", network)


@pytest.mark.parametrize(
    ("payout", "reason"),
    [("abc", "invalid_payout"), ("1e400", "invalid_payout"), ("NaN", "invalid_payout"), ("Infinity", "invalid_payout")],
)
def test_a_payout_that_is_not_a_decimal_number_is_rejected(client, postback_url, payout, reason):
    body = client.get(postback_url, {"click_id": "c1", "payout": payout}).json()

    assert body["success"] is False
    assert body["reason"] == reason
    assert "payout" in body["message"]
    assert not Conversion.objects.exists()


def test_an_unknown_currency_code_is_rejected(client, postback_url):
    body = client.get(postback_url, {"click_id": "c1", "currency": "dollars"}).json()

    assert body["reason"] == "invalid_currency"


def test_an_unknown_key_is_404_and_stored_without_the_key_in_clear(client, db):
    response = client.get("/postback/not-a-real-key-123/", {"click_id": "c1"})

    assert response.status_code == 404
    assert response.json()["reason"] == "unknown_key"
    row = last_row()
    assert row.outcome == "rejected"
    assert row.http_status == 404
    assert "not-a-real-key-123" not in row.path


def test_an_inactive_network_is_404(client, network, postback_url):
    network.is_active = False
    network.save()

    response = client.get(postback_url, {"click_id": "c1"})

    assert response.status_code == 404
    assert last_row().reason == "inactive_network"


def test_the_api_endpoint_without_a_key_is_404(client, db):
    response = client.get("/api/postback/", {"click_id": "c1"})

    assert response.status_code == 404
    assert last_row().reason == "missing_key"


def test_an_address_outside_the_allowlist_is_403(client, network, postback_url):
    network.allowed_ips = "10.0.0.0/8\n192.0.2.7"
    network.save()

    response = client.get(postback_url, {"click_id": "c1"}, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 403
    row = last_row()
    assert (row.reason, row.remote_addr) == ("ip_not_allowed", "203.0.113.9")
    assert not Conversion.objects.exists()


@pytest.mark.parametrize("address", ["10.1.2.3", "192.0.2.7", "::ffff:10.9.9.9"])
def test_an_address_inside_the_allowlist_is_accepted(client, network, postback_url, address):
    network.allowed_ips = "10.0.0.0/8, 192.0.2.7"
    network.save()

    response = client.get(postback_url, {"click_id": "c1"}, REMOTE_ADDR=address)

    assert response.json()["success"] is True


def sign(secret, message):
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_a_missing_signature_is_401(client, network, postback_url):
    network.hmac_secret = "s3cret"
    network.save()

    response = client.get(postback_url, {"click_id": "c1"})

    assert response.status_code == 401
    assert last_row().reason == "bad_signature"


def test_a_wrong_signature_is_401(client, network, postback_url):
    network.hmac_secret = "s3cret"
    network.save()

    response = client.get(f"{postback_url}?click_id=c1", HTTP_X_SIGNATURE=sign("other", b"click_id=c1"))

    assert response.status_code == 401


def test_a_signed_query_string_is_accepted(client, network, postback_url):
    network.hmac_secret = "s3cret"
    network.save()

    response = client.get(
        f"{postback_url}?click_id=c1&payout=2", HTTP_X_SIGNATURE=sign("s3cret", b"click_id=c1&payout=2")
    )

    assert response.json()["success"] is True


def test_a_signed_json_body_is_accepted_with_the_sha256_prefix(client, network, postback_url):
    network.hmac_secret = "s3cret"
    network.save()
    body = b'{"click_id": "c1", "payout": "2"}'

    response = client.post(
        postback_url, body, content_type="application/json", HTTP_X_SIGNATURE="sha256=" + sign("s3cret", body)
    )

    assert response.json()["success"] is True


@override_settings(RECEIVER_RATE_LIMIT="3/m")
def test_the_fourth_postback_in_a_minute_is_429_and_stored(client, postback_url):
    answers = [client.get(postback_url, {"click_id": f"c{i}"}).status_code for i in range(4)]

    assert answers == [200, 200, 200, 429]
    assert last_row().reason == "rate_limited"
    assert ReceivedPostback.objects.count() == 4


@override_settings(RECEIVER_RATE_LIMIT="3/m")
def test_the_rate_limit_counts_per_network_across_addresses(client, postback_url):
    answers = [
        client.get(postback_url, {"click_id": f"c{i}"}, REMOTE_ADDR=f"192.0.2.{i}").status_code for i in range(4)
    ]

    assert answers[-1] == 429


@override_settings(RECEIVER_RATE_LIMIT="")
def test_an_empty_rate_limit_turns_limiting_off(client, postback_url):
    answers = {client.get(postback_url, {"click_id": f"c{i}"}).status_code for i in range(120)}

    assert answers == {200}


def test_a_method_other_than_get_or_post_is_405_and_stored(client, postback_url):
    response = client.put(postback_url, "click_id=c1")

    assert response.status_code == 405
    assert last_row().reason == "method_not_allowed"


@override_settings(RECEIVER_BODY_LIMIT=100)
def test_a_body_over_the_limit_is_413_and_stored_cut(client, postback_url):
    body = '{"click_id": "c1", "pad": "' + "x" * 500 + '"}'

    response = client.post(postback_url, body, content_type="application/json")

    assert response.status_code == 413
    row = last_row()
    assert row.body_truncated is True
    assert len(bytes(row.body)) == 100


def test_a_broken_database_answers_503(client, postback_url):
    def fail(execute, sql, params, many, context):
        raise OperationalError("connection refused")

    with connection.execute_wrapper(fail):
        response = client.get(postback_url, {"click_id": "c1"})

    assert response.status_code == 503
    assert response.json()["reason"] == "storage_down"
    assert not ReceivedPostback.objects.exists()


def test_a_database_failing_mid_transaction_stores_nothing_half_way(client, postback_url):
    def fail_on_event_insert(execute, sql, params, many, context):
        if 'INSERT INTO "receiver_conversionevent"' in sql:  # its own statement, or a part of PostgreSQL's one
            raise OperationalError("disk full")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_on_event_insert):
        response = client.get(postback_url, {"click_id": "c1"})

    assert response.status_code == 503
    assert not Conversion.objects.exists()
    assert not ReceivedPostback.objects.exists()


def test_a_bug_in_the_receiver_still_keeps_the_request(client, postback_url, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("receiver.admission.normalise", broken)
    client.raise_request_exception = False

    response = client.get(postback_url, {"click_id": "c1"})

    assert response.status_code == 500
    row = last_row()
    assert (row.reason, row.http_status, row.query) == ("internal_error", 500, "click_id=c1")


def test_with_a_signed_body_parameters_in_the_url_are_refused(client, network, postback_url):
    network.hmac_secret = "s3cret"
    network.save()
    body = b'{"click_id": "c1"}'

    response = client.post(
        f"{postback_url}?payout=999", body, content_type="application/json", HTTP_X_SIGNATURE=sign("s3cret", body)
    )

    assert response.status_code == 401
    assert response.json()["reason"] == "unsigned_parameters"
    assert "payout" in response.json()["message"]
