"""Parameters arrive as a query string, a form or a JSON body, under aliases or a network's own names."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from receiver.models import Conversion, Network, ReceivedPostback

FULL = {
    "click_id": "c1",
    "conversion_id": "cv1",
    "transaction_id": "t1",
    "offer_id": "o1",
    "publisher_id": "p1",
    "advertiser_id": "a1",
    "conversion_type": "sale",
    "ip": "198.51.100.4",
    "user_agent": "Mozilla/5.0",
    "user_id": "alice",
    "payout": "3.75",
    "currency": "eur",
    "status": "approved",
}
ALIASES = {
    "clickid": "click_id",
    "conversionid": "conversion_id",
    "txid": "transaction_id",
    "offerid": "offer_id",
    "publisherid": "publisher_id",
    "advertiserid": "advertiser_id",
    "conversiontype": "conversion_type",
    "ip_address": "ip",
    "useragent": "user_agent",
    "userid": "user_id",
}


def assert_full_conversion(conversion):
    assert conversion.click_id == "c1"
    assert conversion.conversion_id == "cv1"
    assert conversion.transaction_id == "t1"
    assert conversion.dedupe_id == "t1"
    assert conversion.external_offer_id == "o1"
    assert (conversion.publisher_id, conversion.advertiser_id) == ("p1", "a1")
    assert conversion.conversion_type == "sale"
    assert conversion.ip == "198.51.100.4"
    assert conversion.user_agent == "Mozilla/5.0"
    assert conversion.user_id == "alice"
    assert conversion.payout == Decimal("3.75")
    assert conversion.currency == "EUR"
    assert conversion.status == "approved"


def test_it_reads_a_query_string(client, postback_url):
    client.get(postback_url, FULL)

    assert_full_conversion(Conversion.objects.get())


def test_it_reads_a_form_body(client, postback_url):
    client.post(postback_url, FULL)

    assert_full_conversion(Conversion.objects.get())


def test_it_reads_a_json_body(client, postback_url):
    client.post(postback_url, json.dumps(FULL), content_type="application/json")

    assert_full_conversion(Conversion.objects.get())


def test_it_reads_a_json_body_sent_without_a_content_type(client, postback_url):
    client.generic("POST", postback_url, json.dumps(FULL).encode(), content_type="")

    assert_full_conversion(Conversion.objects.get())


def test_a_json_number_payout_keeps_its_exact_digits(client, postback_url):
    client.post(postback_url, '{"click_id": "c1", "payout": 0.1}', content_type="application/json")

    assert Conversion.objects.get().payout == Decimal("0.1")


@pytest.mark.parametrize(("alias", "field"), ALIASES.items())
def test_it_accepts_each_alias(client, postback_url, alias, field):
    params = {"click_id": "c1", **{alias: FULL[field]}} if alias != "clickid" else {"clickid": "c1"}

    client.get(postback_url, params)

    conversion = Conversion.objects.get()
    attribute = {"offer_id": "external_offer_id"}.get(field, field)
    assert str(getattr(conversion, attribute)) == FULL[field]
    assert alias not in conversion.custom_data


def test_the_api_endpoint_takes_the_key_as_a_parameter(client, network):
    response = client.get("/api/postback/", {"key": network.key, "click_id": "c1"})

    assert response.json()["success"] is True
    row = ReceivedPostback.objects.get()
    assert network.key not in row.query
    assert "key" not in Conversion.objects.get().custom_data


def test_the_api_endpoint_takes_the_key_as_a_header(client, network):
    response = client.post("/api/postback/", {"click_id": "c1"}, HTTP_X_POSTBACK_KEY=network.key)

    assert response.json()["success"] is True
    assert network.key not in json.dumps(ReceivedPostback.objects.get().headers)


def test_the_api_endpoint_takes_the_key_in_a_json_body(client, network):
    body = json.dumps({"key": network.key, "click_id": "c1"})

    response = client.post("/api/postback", body, content_type="application/json")

    assert response.json()["success"] is True


def test_unknown_parameters_land_in_custom_data(client, postback_url):
    client.post(
        postback_url,
        json.dumps({"click_id": "c1", "survey_id": "s9", "answers": {"q1": "yes"}, "referrer": "r"}),
        content_type="application/json",
    )

    assert Conversion.objects.get().custom_data == {"survey_id": "s9", "answers": {"q1": "yes"}, "referrer": "r"}


def test_the_body_wins_over_the_query_string(client, postback_url):
    client.post(f"{postback_url}?click_id=c1&payout=1", {"payout": "2"})

    assert Conversion.objects.get().payout == Decimal("2")


def test_a_network_mapping_is_configuration_not_code(client, network, postback_url):
    # given a network that sends subid, sum, tid and status 1/2/3
    network.param_mapping = {"click_id": "subid", "payout": "sum", "transaction_id": "tid"}
    network.status_mapping = {"1": "approved", "2": "pending", "3": "rejected"}
    network.save()

    # when
    client.get(postback_url, {"subid": "c1", "sum": "4.20", "tid": "T-9", "status": "2", "extra": "x"})

    # then
    conversion = Conversion.objects.get()
    assert (conversion.click_id, conversion.payout, conversion.transaction_id) == ("c1", Decimal("4.20"), "T-9")
    assert conversion.status == "pending"
    assert conversion.custom_data == {"extra": "x"}


def test_a_mapped_name_wins_over_our_own_name(client, network, postback_url):
    network.param_mapping = {"payout": "sum"}
    network.save()

    client.get(postback_url, {"click_id": "c1", "sum": "5", "payout": "9"})

    conversion = Conversion.objects.get()
    assert conversion.payout == Decimal("5")
    assert conversion.custom_data == {"payout": "9"}


def test_invalid_json_is_rejected_and_stored(client, postback_url):
    body = client.post(postback_url, "{not json", content_type="application/json").json()

    assert (body["success"], body["reason"]) == (False, "invalid_json")
    assert bytes(ReceivedPostback.objects.get().body) == b"{not json"


def test_a_json_body_that_is_not_an_object_is_rejected(client, postback_url):
    body = client.post(postback_url, '["c1"]', content_type="application/json").json()

    assert body["reason"] == "invalid_json"
    assert "object" in body["message"]


def test_a_form_body_that_is_not_utf8_is_rejected_and_stored(client, postback_url):
    body = client.generic(
        "POST", postback_url, b"click_id=\xff\xfe", content_type="application/x-www-form-urlencoded"
    ).json()

    assert body["success"] is False
    assert bytes(ReceivedPostback.objects.get().body) == b"click_id=\xff\xfe"


def test_an_invalid_ip_parameter_is_kept_in_custom_data(client, postback_url):
    client.get(postback_url, {"click_id": "c1", "ip": "not-an-ip"})

    conversion = Conversion.objects.get()
    assert conversion.ip is None
    assert conversion.custom_data == {"ip": "not-an-ip"}


def test_a_missing_payout_is_zero_and_the_currency_comes_from_the_offer(client, postback_url, click):
    click.offer.currency = "GBP"
    click.offer.save()

    client.get(postback_url, {"click_id": click.click_id})

    conversion = Conversion.objects.get()
    assert (conversion.payout, conversion.currency) == (Decimal("0"), "GBP")
    assert (conversion.known_click, conversion.offer, conversion.user_id) == (click, click.offer, "alice")


def test_a_parameter_the_mapping_gives_to_one_field_is_not_read_again_as_another(client, network):
    # Everflow and TUNE send their click id as transaction_id; a second conversion on it has another conversion_id.
    network.param_mapping = {"click_id": "transaction_id"}
    network.save()
    url = f"/postback/{network.key}/"

    first = client.get(url, {"transaction_id": "click-7", "conversion_id": "conv-1", "payout": "1"}).json()
    second = client.get(url, {"transaction_id": "click-7", "conversion_id": "conv-2", "payout": "1"}).json()

    assert (first["success"], second.get("duplicate")) == (True, None)
    conversions = Conversion.objects.order_by("id")
    assert [(c.click_id, c.transaction_id, c.conversion_id) for c in conversions] == [
        ("click-7", "", "conv-1"),
        ("click-7", "", "conv-2"),
    ]


@pytest.mark.parametrize(
    ("options", "sent", "stored"),
    [
        ({"payout_scale": Decimal("0.01")}, "150", Decimal("1.50")),  # Pollfish's cpa, in cents
        ({"decimal_comma": True}, "12,34", Decimal("12.34")),  # as Everflow may send it
        ({}, "12,34", None),  # a comma is not a decimal point unless the network's setting says so
    ],
)
def test_a_networks_payout_settings_read_its_amounts(client, network, options, sent, stored):
    Network.objects.filter(pk=network.pk).update(**options)

    answer = client.get(f"/postback/{network.key}/", {"click_id": "c1", "payout": sent}).json()

    if stored is None:
        assert answer["reason"] == "invalid_payout"
    else:
        assert Conversion.objects.get().payout == stored


def test_a_networks_default_currency_is_taken_when_a_postback_names_none(client, network, offer):
    Network.objects.filter(pk=network.pk).update(default_currency="EUR")

    client.get(f"/postback/{network.key}/", {"click_id": "c1", "payout": "2", "offer_id": str(offer.pk)})
    client.get(f"/postback/{network.key}/", {"click_id": "c2", "payout": "2", "currency": "GBP"})

    assert list(Conversion.objects.order_by("id").values_list("currency", flat=True)) == ["EUR", "GBP"]


def test_create_network_takes_the_payout_settings(db):
    call_command(
        "create_network",
        "Poll",
        "--payout-scale",
        "0.01",
        "--default-currency",
        "usd",
        "--decimal-comma",
        stdout=StringIO(),
    )

    network = Network.objects.get(name="Poll")
    assert (network.payout_scale, network.default_currency, network.decimal_comma) == (Decimal("0.01"), "USD", True)
    with pytest.raises(CommandError, match="--payout-scale 'cents' is not a decimal number"):
        call_command("create_network", "Bad", "--payout-scale", "cents", stdout=StringIO())
