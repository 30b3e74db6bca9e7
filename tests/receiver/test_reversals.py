"""Reversals in each network's style land on their original once; a reversal of nothing is refused as
unknown_original, and never creates a conversion."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from partners.macros import event_values
from partners.models import Delivery, State
from partners.templating import render
from receiver.ledger import balance
from receiver.models import Conversion, ConversionEvent, Network, Outcome, ReceivedPostback

pytestmark = pytest.mark.usefixtures("nothing_sent")


def configure(network, **fields):
    for name, value in fields.items():
        setattr(network, name, value)
    network.full_clean()
    network.save()
    return network


def sent_to_partner(partner):
    return list(Delivery.objects.filter(destination=partner).order_by("id").values_list("event__to_status", flat=True))


def test_a_negative_payout_reverses_the_conversion_with_the_same_ids_once(client, postback_url, partner):
    approve = {"click_id": "c1", "transaction_id": "t1", "user_id": "alice", "payout": "2.00"}
    client.get(postback_url, approve)
    assert balance("alice") == 200

    first = client.get(postback_url, {**approve, "payout": "-2.00"}).json()
    again = client.get(postback_url, {**approve, "payout": "-2.00"}).json()

    assert (first["success"], first["status"]) == (True, "reversed")
    assert again["duplicate"] is True
    conversion = Conversion.objects.get()
    assert (conversion.status, conversion.payout) == ("reversed", Decimal("2.00"))
    assert balance("alice") == 0
    assert sent_to_partner(partner) == ["approved", "reversed"]
    row = ReceivedPostback.objects.filter(outcome=Outcome.STATUS_CHANGE).get()
    assert (row.payout, row.status, row.conversion) == (Decimal("-2.00"), "reversed", conversion)


def test_a_negative_payout_that_names_no_conversion_is_refused_as_unknown_original(client, postback_url):
    response = client.get(postback_url, {"click_id": "c9", "transaction_id": "t9", "payout": "-1.50"})

    body = response.json()
    assert (response.status_code, body["success"], body["reason"]) == (200, False, "unknown_original")
    assert "click_id 'c9' with transaction id 't9'" in body["message"]
    assert not Conversion.objects.exists()
    row = ReceivedPostback.objects.get()
    assert (row.outcome, row.reason, row.payout) == (Outcome.REJECTED, "unknown_original", Decimal("-1.50"))


def test_a_status_reversal_of_an_unknown_conversion_creates_nothing(client, postback_url):
    body = client.get(postback_url, {"click_id": "c1", "status": "chargeback"}).json()

    assert body["reason"] == "unknown_original"
    assert not Conversion.objects.exists()


def test_an_ayet_style_chargeback_strips_the_prefix_and_lands_on_the_original(client, network, postback_url, partner):
    configure(
        network,
        param_mapping={"click_id": "transaction_id", "user_id": "external_identifier", "payout": "payout_usd"},
        reversal={"flag": "is_chargeback", "original": "transaction_id", "strip": "r-"},
    )
    client.get(postback_url, {"transaction_id": "X7", "external_identifier": "alice", "payout_usd": "1.00"})
    chargeback = {"transaction_id": "r-X7", "external_identifier": "alice", "payout_usd": "1.00", "is_chargeback": "1"}

    first = client.get(postback_url, chargeback).json()
    again = client.get(postback_url, chargeback).json()

    assert (first["status"], again["duplicate"]) == ("reversed", True)
    original = Conversion.objects.get()
    assert (original.click_id, original.status, original.reference) == ("X7", "reversed", "X7")
    assert balance("alice") == 0
    assert sent_to_partner(partner) == ["approved", "reversed"]


def test_a_wannads_style_reversal_with_a_new_transaction_id_finds_its_original_by_uuid(client, network, postback_url):
    configure(
        network,
        param_mapping={"click_id": "subId", "transaction_id": "transId", "payout": "payout"},
        status_mapping={"1": "approved", "2": "reversed"},
        reversal={"original": "uuid"},
    )
    client.get(postback_url, {"subId": "alice", "transId": "T1", "payout": "3", "status": "1", "uuid": "u-1"})

    body = client.get(postback_url, {"subId": "alice", "transId": "T2", "payout": "3", "status": "2", "uuid": "u-1"})

    assert body.json()["status"] == "reversed"
    assert list(Conversion.objects.values_list("transaction_id", "status")) == [("T1", "reversed")]
    assert list(ConversionEvent.objects.order_by("id").values_list("to_status", flat=True)) == ["approved", "reversed"]


def test_a_bitlabs_style_reconciliation_names_its_original_in_another_parameter(client, network, postback_url):
    configure(network, param_mapping={"click_id": "tx", "payout": "raw"}, reversal={"original": "ref", "matches": "tx"})
    client.get(postback_url, {"tx": "tx-1", "raw": "0.80"})

    body = client.get(postback_url, {"tx": "tx-2", "raw": "-0.80", "ref": "tx-1"}).json()
    unknown = client.get(postback_url, {"tx": "tx-3", "raw": "-0.80", "ref": "tx-404"}).json()

    assert body["status"] == "reversed"
    assert Conversion.objects.get().status == "reversed"
    assert (unknown["reason"], "ref 'tx-404'" in unknown["message"]) == ("unknown_original", True)


def test_a_reversal_of_a_rejected_conversion_changes_nothing(client, postback_url, partner):
    client.get(postback_url, {"click_id": "c1", "status": "rejected"})

    body = client.get(postback_url, {"click_id": "c1", "payout": "-1"}).json()

    assert (body["duplicate"], body["reason"]) == (True, "status_transition_refused")
    assert Conversion.objects.get().status == "rejected"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("uuid", "a reversal rule is a JSON object"),
        ({"original": ""}, "original: the reversal's parameter naming its original"),
        ({"prefix": "r-"}, "'prefix' is not a reversal key; use flag, original, strip, matches"),
        ({"strip": "r-"}, "strip and matches apply to original"),
    ],
)
def test_a_reversal_rule_that_cannot_be_used_is_refused_when_saved(db, rule, message):
    with pytest.raises(ValidationError, match=message):
        Network(name="N", reversal=rule).full_clean()


def test_a_network_test_flag_makes_a_test_conversion_that_real_partners_skip(client, network, postback_url, partner):
    configure(network, test_flag="debug")
    tester = partner.__class__.objects.create(
        name="QA", postback_url="https://qa.example/pb?c={click_id}&e={event}", receives_tests=True
    )

    body = client.get(postback_url, {"click_id": "c1", "payout": "1", "debug": "true"}).json()
    real = client.get(postback_url, {"click_id": "c2", "payout": "1", "debug": "0"}).json()

    assert (body["test"], real["test"]) == (True, False)
    assert list(Conversion.objects.order_by("click_id").values_list("click_id", "is_test")) == [
        ("c1", True),
        ("c2", False),
    ]
    skipped = Delivery.objects.get(destination=partner, event__conversion__click_id="c1")
    assert (skipped.state, skipped.reason) == (State.SKIPPED, "a test conversion; this partner does not receive tests")
    assert Delivery.objects.get(destination=tester, event__conversion__click_id="c1").state == State.PENDING


def test_the_virtual_currency_amount_is_kept_and_can_be_the_users_points(client, network, postback_url):
    configure(network, param_mapping={"currency_amount": "val", "payout": "raw", "user_id": "uid"})
    client.get(postback_url, {"click_id": "c1", "uid": "alice", "raw": "0.50", "val": "120"})
    configure(network, currency_points=True)
    client.get(postback_url, {"click_id": "c2", "uid": "bob", "raw": "0.50", "val": "120.4"})

    amounts = dict(Conversion.objects.values_list("click_id", "currency_amount"))
    assert amounts == {"c1": Decimal("120"), "c2": Decimal("120.4")}
    assert (balance("alice"), balance("bob")) == (50, 120)


def test_a_currency_amount_mapped_to_currency_is_not_read_as_the_currency_code(client, network, postback_url):
    configure(network, param_mapping={"click_id": "id", "user_id": "snuid", "currency_amount": "currency"})

    body = client.get(postback_url, {"id": "tj-1", "snuid": "alice", "currency": "25"}).json()

    assert body["success"] is True, body
    conversion = Conversion.objects.get()
    assert (conversion.currency_amount, conversion.currency) == (Decimal("25"), "USD")


def test_passthrough_values_map_to_sub1_to_sub5_and_reach_partners_as_macros(client, network, postback_url, partner):
    configure(network, param_mapping={"sub1": "sub_id", "sub2": "sub_id_2", "sub5": "pub4"})
    partner.postback_url = "https://wall.example/pb?c={click_id}&a={sub1}&b={sub2}&e={sub5}&n={sub3}"
    partner.save()

    client.get(postback_url, {"click_id": "c1", "sub_id": "camp 1", "sub_id_2": "x", "pub4": "p4"})

    conversion = Conversion.objects.get()
    assert (conversion.sub1, conversion.sub2, conversion.sub3, conversion.sub5) == ("camp 1", "x", "", "p4")
    assert "sub_id" not in conversion.custom_data
    values = event_values(Delivery.objects.get(), partner)
    assert render(partner.postback_url, values) == "https://wall.example/pb?c=c1&a=camp%201&b=x&e=p4&n="


def test_create_network_takes_a_reversal_rule_a_test_flag_and_currency_points(db):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    rule = '{"flag": "is_chargeback", "original": "transaction_id", "strip": "r-"}'
    call_command(
        "create_network", "Ayet", "--reversal", rule, "--test-flag", "debug", "--currency-points", stdout=StringIO()
    )

    network = Network.objects.get(name="Ayet")
    assert (network.reversal["strip"], network.test_flag, network.currency_points) == ("r-", "debug", True)
    with pytest.raises(CommandError, match="--reversal is not JSON"):
        call_command("create_network", "Bad", "--reversal", "{uuid", stdout=StringIO())
    with pytest.raises(CommandError, match="strip and matches apply to original"):
        call_command("create_network", "Bad", "--reversal", '{"strip": "r-"}', stdout=StringIO())


def test_a_replay_with_another_payout_is_not_trusted_when_the_signature_leaves_the_payout_out(client, network):
    import hashlib

    configure(
        network,
        hmac_secret="s3cret",
        param_mapping={"click_id": "trans_id", "payout": "amount_usd"},
        signature={"scheme": "fields", "algorithm": "md5", "template": "{trans_id}-{secret}", "in": "query:hash"},
    )
    signed = {"trans_id": "cpx-1", "hash": hashlib.md5(b"cpx-1-s3cret").hexdigest()}
    url = f"/postback/{network.key}/"
    client.get(url, {**signed, "amount_usd": "0.50"})

    body = client.get(url, {**signed, "amount_usd": "50.00"}).json()

    assert (body["duplicate"], body["reason"]) == (True, "unsigned_payout_change")
    assert "does not cover amount_usd" in body["message"]
    assert Conversion.objects.get().payout == Decimal("0.50")
    assert ConversionEvent.objects.count() == 1
