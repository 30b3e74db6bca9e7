"""The receiver's admission: each check refuses with its own reason, and no refusal stores a key or token in clear."""

import hashlib
import hmac
import json

import pytest
from django.test import RequestFactory, override_settings

from receiver import admission, claims
from receiver.admission import Refused
from receiver.inbound import capture
from receiver.models import Network, ReceivedPostback
from receiver.params import raw_params

pytestmark = pytest.mark.django_db
SECRET = "s3cr3t-from-the-network"


def last_row():
    return ReceivedPostback.objects.order_by("-id").first()


def stored_text(row):
    return str([bytes(row.body), row.query, row.params, row.headers, row.path, row.message])


KEY_IN_BODY = [
    ("application/json", lambda key: json.dumps({"click_id": "c1", "key": key})),
    ("application/x-www-form-urlencoded", lambda key: f"click_id=c1&key={key}"),
]


@pytest.mark.parametrize(("content_type", "body"), KEY_IN_BODY)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_key_in_the_body_is_masked_when_the_method_is_refused(client, network, content_type, body, method):
    response = client.generic(method, "/api/postback/", body(network.key), content_type=content_type)

    assert response.status_code == 405
    row = last_row()
    assert network.key not in stored_text(row)
    assert network.key[:4].encode() + "…".encode() in bytes(row.body)


@override_settings(RECEIVER_RATE_LIMIT="1/m")
@pytest.mark.parametrize(("content_type", "body"), KEY_IN_BODY)
def test_a_key_in_the_body_is_masked_when_the_address_is_rate_limited(client, network, content_type, body):
    for _ in range(2):
        response = client.post("/api/postback/", body(network.key), content_type=content_type)

    assert response.status_code == 429
    row = last_row()
    assert row.reason == "rate_limited"
    assert network.key not in stored_text(row)


def test_a_key_in_a_json_body_is_masked_when_the_query_names_another(client, network):
    body = json.dumps({"click_id": "c1", "key": network.key})

    response = client.generic("DELETE", "/api/postback/?key=someone-elses-key", body, content_type="application/json")

    assert response.status_code == 405
    assert network.key not in stored_text(last_row())


def test_a_key_in_a_form_body_that_cannot_be_parsed_is_masked(client, network):
    body = f"click_id=c1&key={network.key}&name=\xff".encode("latin-1")

    response = client.post("/api/postback/", body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 404
    assert network.key not in stored_text(last_row())


def test_a_key_in_a_json_body_is_masked_when_the_receiver_fails_before_reading_it(client, network, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("receiver.security.is_ratelimited", broken)
    client.raise_request_exception = False
    body = json.dumps({"click_id": "c1", "key": network.key})

    response = client.post("/api/postback/", body, content_type="application/json")

    assert response.status_code == 500
    row = last_row()
    assert row.reason == "internal_error"
    assert network.key not in stored_text(row)


def test_a_token_is_masked_when_the_network_refuses_the_address_before_the_signature_is_checked(client):
    network = Network(name="Token", hmac_secret=SECRET, signature={"scheme": "token", "in": "query:secure"})
    network.allowed_ips = "10.0.0.0/8"
    network.full_clean()
    network.save()

    response = client.get(f"/postback/{network.key}/", {"click_id": "c1", "secure": SECRET}, REMOTE_ADDR="192.0.2.1")

    assert response.status_code == 403
    assert SECRET not in stored_text(last_row())


def captured(method="get", path="/api/postback/", data=None, **extra):
    return capture(getattr(RequestFactory(), method)(path, data, **extra))


def refusal(check, *args):
    with pytest.raises(Refused) as refused:
        check(*args)
    return refused.value.status, refused.value.reason


def test_the_method_check_refuses_anything_but_the_methods_allowed():
    assert refusal(admission.method, captured("put"), ("GET", "POST"), "use GET or POST") == (405, "method_not_allowed")
    admission.method(captured("get"), ("GET", "POST"), "use GET or POST")


def test_the_length_check_refuses_a_chunked_body():
    assert refusal(admission.length, captured("post", HTTP_TRANSFER_ENCODING="chunked")) == (411, "length_required")


@override_settings(RECEIVER_RATE_LIMIT="1/m")
def test_the_rate_check_refuses_once_the_rate_is_spent():
    request = RequestFactory().get("/api/postback/")
    admission.rate(request, "receiver.ip", "192.0.2.1", "slow down")

    assert refusal(admission.rate, request, "receiver.ip", "192.0.2.1", "slow down") == (429, "rate_limited")


def test_the_key_check_names_a_missing_an_unknown_and_an_inactive_key(network):
    inactive = Network.objects.create(name="Off", is_active=False)

    assert refusal(admission.network, captured(), {}) == (404, "missing_key")
    assert refusal(admission.network, captured(), {"key": "not-a-key-we-gave"}) == (404, "unknown_key")
    assert refusal(admission.network, captured(), {"key": inactive.key}) == (404, "inactive_network")
    assert admission.network(captured(), {"key": network.key}) == network


def test_the_key_check_takes_a_json_bodys_key_over_the_querys(network):
    inbound = captured("post", "/api/postback/?key=another", {"key": network.key}, content_type="application/json")

    assert admission.network(inbound, raw_params(inbound)) == network
    assert inbound.key == network.key


def test_the_address_check_refuses_an_address_off_the_allowlist(network):
    network.allowed_ips = "10.0.0.0/8"

    assert refusal(admission.address, captured(REMOTE_ADDR="192.0.2.1"), network) == (403, "ip_not_allowed")
    admission.address(captured(REMOTE_ADDR="10.1.2.3"), network)


@override_settings(RECEIVER_BODY_LIMIT=10)
def test_the_body_size_check_refuses_a_body_cut_off(network):
    inbound = captured("post", data={"click_id": "c" * 20})

    assert refusal(admission.body_size, inbound, network) == (413, "body_too_large")


def test_the_signature_check_refuses_a_wrong_signature_and_parameters_it_does_not_cover(network):
    network.hmac_secret = SECRET
    body = b'{"click_id": "c1"}'
    signed = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    wrong = captured("post", data=body, content_type="application/json", HTTP_X_SIGNATURE="0" * 64)
    assert refusal(admission.signature, wrong, network, raw_params(wrong)) == (401, "bad_signature")
    unsigned = captured(
        "post", "/api/postback/?payout=9", body, content_type="application/json", HTTP_X_SIGNATURE=signed
    )
    assert refusal(admission.signature, unsigned, network, raw_params(unsigned)) == (401, "unsigned_parameters")


def test_the_signature_check_takes_the_signature_parameter_out_of_the_parameters():
    network = Network(name="Token", hmac_secret=SECRET, signature={"scheme": "token", "in": "query:secure"})
    params = {"click_id": "c1", "secure": SECRET}

    admission.signature(captured(data=params), network, params)

    assert params == {"click_id": "c1"}


def test_the_parse_check_refuses_parameters_that_could_not_be_read_as_invalid_input(network):
    inbound = captured("post", data=b"{not json", content_type="application/json")
    params, error = admission.parameters(inbound)

    assert refusal(admission.parsed, error, network, params) == (200, "invalid_json")
    admission.parsed(None, network, params)


def test_the_normalise_check_refuses_what_the_contract_does_not_take(network):
    assert refusal(admission.fields, network, {"payout": "1"}) == (200, "missing_click_id")
    assert refusal(admission.fields, network, {"click_id": "c1", "payout": "lots"}) == (200, "invalid_payout")
    assert admission.fields(network, {"click_id": "c1"})["click_id"] == "c1"


def test_a_refusal_carries_what_the_row_needs():
    refused = Refused(200, "invalid_payout", "payout 'x' is not a decimal", network="n", params={"payout": "x"})

    assert (refused.status, refused.reason, refused.message) == (200, "invalid_payout", "payout 'x' is not a decimal")
    assert (refused.network, refused.params, str(refused)) == ("n", {"payout": "x"}, "payout 'x' is not a decimal")


def test_claims_and_postbacks_share_one_refusal(db):
    assert claims.Refused is Refused

    assert refusal(claims.claimant, captured("post")) == (401, "missing_token")
    assert refusal(claims.claimed_offer, 999999) == (404, "unknown_offer")
    assert refusal(claims.claim_fields, captured("post", data={"click_id": "c1"}), None) == (400, "missing_user_id")


def test_a_claim_and_a_postback_refused_alike_are_stored_and_answered_alike(client, network, offer):
    postback = client.put(f"/postback/{network.key}/")
    claim = client.put(f"/api/offers/{offer.pk}/claim")

    assert (postback.status_code, claim.status_code) == (405, 405)
    assert set(postback.json()) == set(claim.json()) == {"success", "message", "reason", "postbackId"}
    rows = ReceivedPostback.objects.order_by("id")
    assert [(row.source, row.reason, row.http_status) for row in rows] == [
        ("postback", "method_not_allowed", 405),
        ("claim", "method_not_allowed", 405),
    ]
