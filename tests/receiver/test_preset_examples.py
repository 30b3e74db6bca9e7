"""Every preset's worked example (issue 15's "done when"): its network's postback, built and signed as that network
builds it (tests/receiver/network_signers.py), lands with the row, conversion, points and answer it must; a
tampered, missing or foreign signature and a replay with another amount are refused; and a reversal in the
network's own style lands on its original once."""

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from receiver import ledger, presets
from receiver.models import Click, Conversion, ConversionEvent, EventKind, Network, Offer, ReceivedPostback
from tests.receiver.network_signers import (
    EXAMPLES,
    JSON_ACK,
    SECRET,
    Example,
    param,
    tampered,
    with_param,
    without_param,
)

pytestmark = pytest.mark.django_db
ALL = list(presets.all_presets())
SIGNED = [slug for slug in ALL if slug in EXAMPLES and EXAMPLES[slug].signed]
REVERSING = [slug for slug in ALL if slug in EXAMPLES and EXAMPLES[slug].reversed_to == "reversed"]
USER = "u1"


def example_of(slug) -> Example:
    if slug not in EXAMPLES:
        pytest.fail(f"preset {slug!r} has no worked example in tests/receiver/network_signers.py EXAMPLES")
    return EXAMPLES[slug]


def network_for(slug, example):
    """A network made from the preset with the secret the network gave us, and, for a tracker, our click."""
    signs = "signature" in presets.preset(slug)["settings"]
    network = presets.apply(Network(name=slug, hmac_secret=SECRET if signs else ""), slug)
    network.full_clean()
    network.save()
    if example.our_click:
        offer = Offer.objects.create(network=network, name="Offer", url="https://n.example/?c={click_id}", payout=1)
        Click.objects.create(offer=offer, click_id=example.conversion["click_id"], user_id=USER)
    return network


def built(slug, params=None, secret=SECRET):
    """(network, example, the request its network sends for `params`, default: the approved conversion)."""
    example = example_of(slug)
    network = network_for(slug, example)
    sent = example.sign(f"/postback/{network.key}/", example.approved if params is None else params, secret)
    return network, example, sent


def send(client, example, sent):
    extra = {"headers": sent.headers, "REMOTE_ADDR": example.remote_addr}
    if sent.method == "POST":
        return client.post(sent.url, data=sent.body, content_type=sent.content_type, **extra)
    return client.get(sent.url, **extra)


def assert_answered(response, body, http=200, **json_says):
    """The answer the network checks: its own body, or our JSON contract saying `json_says`."""
    assert response.status_code == http, response.content
    if body is JSON_ACK:
        got = response.json()
        assert {name: got.get(name) for name in json_says} == json_says, got
    else:
        assert response.content == body


def assert_secret_kept_out(row):
    stored = [row.query, json.dumps(row.params), json.dumps(row.headers), bytes(row.body).decode(errors="replace")]
    assert [text for text in stored if SECRET in text] == []


def signature_changed(example, sent, change):
    """The request with its signature passed through `change` (None: removed), everything else as sent."""
    place, name = example.signature_in
    if place == "header":
        headers = {k: v for k, v in sent.headers.items() if k != name}
        if change is not None:
            headers[name] = change(sent.headers[name])
        return replace(sent, headers=headers)
    if change is None:
        return replace(sent, url=without_param(sent.url, name))
    return replace(sent, url=with_param(sent.url, name, change(param(sent.url, name))))


def conversion_fields(conversion, expected):
    return {name: getattr(conversion, name) for name in expected}


def expected_fields(expected):
    amounts = ("payout", "currency_amount")
    return {name: Decimal(v) if name in amounts and v is not None else v for name, v in expected.items()}


def test_every_preset_has_a_worked_example():
    assert sorted(set(ALL) - set(EXAMPLES)) == []
    assert sorted(set(EXAMPLES) - set(ALL)) == [], "an example of a preset that no longer exists"


@pytest.mark.parametrize("slug", ALL)
def test_a_presets_postback_sent_as_its_network_sends_it_lands_and_is_acknowledged(client, slug):
    _network, example, sent = built(slug)

    response = send(client, example, sent)

    assert_answered(response, example.ack("accepted"), success=True)
    row = ReceivedPostback.objects.get()
    assert (row.outcome, row.reason, row.http_status) == ("accepted", "", 200), row.message
    assert_secret_kept_out(row)
    conversion = Conversion.objects.get()
    assert row.conversion_id == conversion.pk
    assert conversion_fields(conversion, example.conversion) == expected_fields(example.conversion)
    assert ledger.balance(USER) == example.points


@pytest.mark.parametrize("slug", SIGNED)
def test_a_signature_with_one_character_changed_is_refused(client, slug):
    _network, example, sent = built(slug)

    response = send(client, example, signature_changed(example, sent, tampered))

    assert_answered(response, example.ack("bad_signature"), http=example.refused_status, reason="bad_signature")
    row = ReceivedPostback.objects.get()
    assert (row.outcome, row.reason, row.http_status) == ("rejected", "bad_signature", example.refused_status)
    assert_secret_kept_out(row)
    assert not Conversion.objects.exists()


@pytest.mark.parametrize("slug", SIGNED)
def test_a_postback_without_its_signature_is_refused(client, slug):
    _network, example, sent = built(slug)

    response = send(client, example, signature_changed(example, sent, None))

    assert_answered(response, example.ack("bad_signature"), http=example.refused_status, reason="bad_signature")
    assert ReceivedPostback.objects.get().reason == "bad_signature"
    assert not Conversion.objects.exists()


@pytest.mark.parametrize("slug", SIGNED)
def test_a_postback_signed_with_another_secret_is_refused(client, slug):
    _network, example, sent = built(slug, secret="another-secret-altogether")

    response = send(client, example, sent)

    assert response.status_code == example.refused_status
    assert ReceivedPostback.objects.get().reason == "bad_signature"
    assert not Conversion.objects.exists()


@pytest.mark.parametrize("slug", SIGNED)
def test_a_replay_of_a_signed_postback_with_another_amount_does_not_change_the_payout(client, slug):
    _network, example, sent = built(slug)
    assert send(client, example, sent).status_code == 200
    name, value = example.replay
    payout = Conversion.objects.get().payout

    response = send(client, example, replace(sent, url=with_param(sent.url, name, value)))

    row = ReceivedPostback.objects.latest("pk")
    conversion = Conversion.objects.get()
    if example.replay_answer == "bad_signature":
        assert_answered(response, example.ack("bad_signature"), http=example.refused_status, reason="bad_signature")
        assert (row.outcome, row.reason) == ("rejected", "bad_signature")
        assert conversion.payout == payout
    elif example.replay_answer == "unsigned_payout_change":
        assert_answered(response, example.ack("duplicate"), duplicate=True, reason="unsigned_payout_change")
        assert (row.outcome, row.reason) == ("duplicate", "unsigned_payout_change")
        assert conversion.payout == payout
    else:
        # A token network sends its secret as it is: whoever holds the token vouches for every parameter, and a new
        # payout from it is the network's adjustment (issue 15: "without a signature the key vouches for all").
        assert example.replay_answer == "adjustment"
        assert_answered(response, example.ack("adjustment"), success=True)
        assert (row.outcome, row.reason) == ("adjustment", "")
        assert conversion.payout == Decimal(value)
    assert_secret_kept_out(row)
    assert ledger.balance(USER) == example.points or example.replay_answer == "adjustment"


@pytest.mark.parametrize("slug", ALL)
def test_a_reversal_in_the_networks_own_style_lands_on_its_original_once(client, slug):
    network, example, sent = built(slug)
    assert send(client, example, sent).status_code == 200
    assert ledger.balance(USER) == example.points
    reversal = example.sign(f"/postback/{network.key}/", example.reversal, SECRET)

    first, second = send(client, example, reversal), send(client, example, reversal)

    assert_answered(first, example.ack("status_change"), success=True, status=example.reversed_to)
    assert_answered(second, example.ack("duplicate"), success=True, duplicate=True)
    conversion = Conversion.objects.get()  # a reversal never makes a conversion of its own
    assert conversion.status == example.reversed_to
    assert ledger.balance(USER) == 0
    taken_back = ConversionEvent.objects.filter(conversion=conversion, kind=EventKind.STATUS_CHANGE)
    assert [event.to_status for event in taken_back] == [example.reversed_to]
    rows = ReceivedPostback.objects.order_by("pk")
    assert [(row.outcome, row.conversion_id) for row in rows] == [
        ("accepted", conversion.pk),
        ("status_change", conversion.pk),
        ("duplicate", conversion.pk),
    ]
    assert all(row.http_status == 200 for row in rows)


@pytest.mark.parametrize("slug", REVERSING)
def test_a_reversal_whose_original_is_unknown_is_stored_and_answered_so_it_is_not_retried(client, slug):
    network, example, _sent = built(slug)
    reversal = example.sign(f"/postback/{network.key}/", example.reversal, SECRET)

    response = send(client, example, reversal)

    status = 403 if example.ack("rejected") is not JSON_ACK else 200  # Tapjoy stops on 403; others read success
    assert_answered(response, example.ack("rejected"), http=status, success=False, reason="unknown_original")
    row = ReceivedPostback.objects.get()
    assert (row.outcome, row.reason) == ("rejected", "unknown_original")
    assert not Conversion.objects.exists()


@pytest.mark.parametrize("slug", [slug for slug in ALL if slug in EXAMPLES and EXAMPLES[slug].test_flag])
def test_a_networks_test_flag_makes_a_test_conversion_that_credits_nothing(client, slug):
    example = example_of(slug)
    _network, _example, sent = built(slug, {**example.approved, example.test_flag: "true"})

    response = send(client, example, sent)

    assert_answered(response, example.ack("accepted"), success=True, test=True)
    conversion = Conversion.objects.get()
    assert (conversion.is_test, conversion.click_id) == (True, example.conversion["click_id"])
    assert ledger.balance(USER) == 0


def test_a_wannads_reversal_answers_ok_then_dup_and_keeps_the_originals_amounts(client):
    network, example, sent = built("wannads")
    send(client, example, sent)
    reversal = example.sign(f"/postback/{network.key}/", example.reversal, SECRET)

    answers = [send(client, example, reversal).content for _ in range(2)]

    conversion = Conversion.objects.get()
    assert answers == [b"OK", b"DUP"]
    assert (conversion.click_id, conversion.payout, conversion.currency_amount) == ("wn-1", Decimal("0.4"), 40)


def test_an_ayet_chargeback_keeps_its_negative_amount_on_the_stored_request_not_on_the_conversion(client):
    network, example, sent = built("ayetstudios")
    send(client, example, sent)

    send(client, example, example.sign(f"/postback/{network.key}/", example.reversal, SECRET))

    row = ReceivedPostback.objects.latest("pk")
    assert (row.click_id, row.params["currency_amount"], row.status) == ("r-ay-1", "-40.000000", "reversed")
    assert Conversion.objects.get().currency_amount == 40


def test_an_ayet_postback_whose_offer_name_holds_a_tilde_is_accepted(client):
    example = example_of("ayetstudios")
    _network, _example, sent = built("ayetstudios", {**example.approved, "offer_name": "Coin Rush ~ Gold"})

    response = send(client, example, sent)

    assert response.status_code == 200, response.content
    assert Conversion.objects.get().click_id == "ay-1"


def test_a_theoremreach_callback_with_its_currency_parameter_is_accepted(client):
    _network, example, sent = built(
        "theoremreach", {"user_id": "u1", "reward": "50", "currency": "50", "tx_id": "tr-1"}
    )

    response = send(client, example, sent)

    assert ReceivedPostback.objects.get().reason == ""
    assert response.json()["success"] is True


def test_a_pollfish_callback_with_an_empty_term_reason_is_accepted(client):
    example = example_of("pollfish")
    _network, _example, sent = built("pollfish", {**example.approved, "term_reason": ""})

    response = send(client, example, sent)

    assert response.status_code == 200, response.content
    assert Conversion.objects.get().click_id == "pf-1"
