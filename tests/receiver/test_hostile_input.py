"""Inputs the property tests found that broke "every request is stored and answered": each is now bad input."""

import json

import pytest

from receiver.models import Conversion, ReceivedPostback

MULTIPART = "multipart/form-data; boundary=x"
BAD_JSON = '{"click_id": "a\\u0000b", "\\ud800": "\\udfff"}'


def multipart_files(count):
    parts = b"".join(
        b'--x\r\nContent-Disposition: form-data; name="f%d"; filename="a.txt"\r\n\r\nab\r\n' % i for i in range(count)
    )
    return parts + b"--x--\r\n"


def stored_rejection():
    row = ReceivedPostback.objects.get()
    assert (row.outcome, row.http_status) == ("rejected", 200)
    assert not Conversion.objects.exists()
    return row


def test_a_query_string_with_more_parameters_than_django_parses_is_stored_and_rejected(client, postback_url):
    query = "&".join(f"p{i}=1" for i in range(1001))

    body = client.get(f"{postback_url}?click_id=c1&{query}").json()

    assert (body["success"], body["reason"]) == (False, "invalid_query")
    row = stored_rejection()
    assert row.reason == "invalid_query"
    assert row.query.startswith("click_id=c1&p0=1")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("&".join(f"p{i}=1" for i in range(1001)).encode(), "application/x-www-form-urlencoded"),
        (multipart_files(101), MULTIPART),
        (b"click_id=c1", "application/x-www-form-urlencoded; charset=utf-16"),
    ],
    ids=["too-many-form-fields", "too-many-files", "charset-that-does-not-decode-it"],
)
def test_a_form_body_django_refuses_to_parse_is_stored_and_rejected(client, postback_url, body, content_type):
    answer = client.generic("POST", postback_url, body, content_type=content_type).json()

    assert (answer["success"], answer["reason"]) == (False, "invalid_form")
    assert bytes(stored_rejection().body) == body


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_json_payout_that_is_not_a_finite_number_is_an_invalid_payout(client, postback_url, constant):
    body = f'{{"click_id": "c1", "payout": {constant}}}'

    answer = client.post(postback_url, body, content_type="application/json").json()

    assert answer["reason"] == "invalid_payout"
    assert stored_rejection().params["payout"] == constant


def test_a_json_constant_elsewhere_is_kept_as_text(client, postback_url):
    client.post(postback_url, '{"click_id": "c1", "score": NaN}', content_type="application/json")

    assert Conversion.objects.get().custom_data == {"score": "NaN"}


def test_a_fraction_inside_a_json_array_or_object_of_custom_data_is_kept_as_text(client, postback_url):
    body = '{"click_id": "c1", "scores": [0.0], "extra": {"n": 1.5}}'

    answer = client.post(postback_url, body, content_type="application/json").json()

    assert answer["success"] is True
    assert Conversion.objects.get().custom_data == {"scores": ["0.0"], "extra": {"n": "1.5"}}


@pytest.mark.parametrize("name", ["publisher_id", "advertiser_id"])
def test_an_id_over_200_characters_is_invalid_input(client, postback_url, name):
    # PostgreSQL refused these two (a 503, retried forever); the other ids were already checked.
    answer = client.get(postback_url, {"click_id": "c1", name: "0" * 201}).json()

    assert answer["reason"] == "invalid_input"
    stored_rejection()


@pytest.mark.parametrize("depth", [17, 5000], ids=["over-the-limit", "past-the-parser-recursion-limit"])
def test_deeply_nested_json_is_rejected_as_invalid_json(client, postback_url, depth):
    body = '{"click_id": "c1", "x": ' + "[" * depth + "]" * depth + "}"

    answer = client.post(postback_url, body, content_type="application/json").json()

    assert answer["reason"] == "invalid_json"
    stored_rejection()


def test_nesting_within_the_limit_is_kept_as_custom_data(client, postback_url):
    client.post(postback_url, '{"click_id": "c1", "x": ' + "[" * 15 + "]" * 15 + "}", content_type="application/json")

    assert Conversion.objects.get().custom_data["x"] == [[[[[[[[[[[[[[[]]]]]]]]]]]]]]]


@pytest.mark.parametrize(
    ("send", "click_id", "custom_data"),
    [
        (lambda c, url: c.get(f"{url}?click_id=a%00b&n%00=v%00"), "a\ufffdb", {"n\ufffd": "v\ufffd"}),
        (lambda c, url: c.post(url, BAD_JSON, content_type="application/json"), "a\ufffdb", {"\ufffd": "\ufffd"}),
        (lambda c, url: c.post(url, {"click_id": "a\x00b", "n\x00": "v"}), "a\ufffdb", {"n\ufffd": "v"}),
    ],
    ids=["query", "json", "form"],
)
def test_nul_and_lone_surrogates_become_replacement_characters(client, postback_url, send, click_id, custom_data):
    # PostgreSQL refused the NUL (a 503, so the network retried forever); every encoder refused the surrogate (a 500).
    answer = send(client, postback_url).json()

    assert (answer["success"], answer["clickId"]) == (True, click_id)
    conversion = Conversion.objects.get()
    assert (conversion.click_id, conversion.custom_data) == (click_id, custom_data)
    assert ReceivedPostback.objects.get().click_id == click_id


def test_a_nul_in_the_path_key_is_an_unknown_key(client, db):
    response = client.get("/postback/a%00b/?click_id=c1")

    assert (response.status_code, response.json()["reason"]) == (404, "unknown_key")
    assert ReceivedPostback.objects.get().http_status == 404


def test_a_nul_in_the_key_header_is_an_unknown_key(client, db):
    response = client.get("/api/postback/?click_id=c1", headers={"x-postback-key": "a\x00b"})

    assert (response.status_code, response.json()["reason"]) == (404, "unknown_key")
    assert ReceivedPostback.objects.get().http_status == 404


@pytest.mark.parametrize("offer_id", ["²", "١٢", "9" * 40])
def test_an_offer_id_that_is_not_a_row_id_names_no_offer(client, postback_url, offer_id):
    answer = client.get(postback_url, {"click_id": "c1", "offer_id": offer_id}).json()

    assert answer["success"] is True
    conversion = Conversion.objects.get()
    assert (conversion.offer, conversion.external_offer_id) == (None, offer_id)


def test_a_signature_with_non_ascii_characters_is_a_bad_signature(client, network, postback_url):
    network.hmac_secret = "s3cret"
    network.save()

    response = client.get(postback_url, {"click_id": "c1"}, headers={"x-signature": "é" * 64})

    assert (response.status_code, response.json()["reason"]) == (401, "bad_signature")


@pytest.mark.parametrize("payout", ["١٢", "１５", "1_000", "²", "1.5.0", "0x10"])
def test_a_payout_in_anything_but_ascii_decimal_digits_is_refused(client, postback_url, payout):
    answer = client.get(postback_url, {"click_id": "c1", "payout": payout}).json()

    assert (answer["success"], answer["reason"]) == (False, "invalid_payout")
    stored_rejection()


@pytest.mark.parametrize("value", [["c1"], True, {"id": "c1"}])
def test_a_click_id_that_is_a_list_an_object_or_a_boolean_is_refused(client, postback_url, value):
    body = json.dumps({"click_id": value})

    answer = client.post(postback_url, body, content_type="application/json").json()

    assert (answer["success"], answer["reason"]) == (False, "invalid_input")
    assert "click_id must be a single text or number" in answer["message"]
    stored_rejection()


def test_a_json_number_as_click_id_is_read_as_its_text(client, postback_url):
    client.post(postback_url, '{"click_id": 12345, "payout": 1.5}', content_type="application/json")

    assert Conversion.objects.get().click_id == "12345"
