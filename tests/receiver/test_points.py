"""The points ledger: every approve, reversal and re-approval is one entry; the balance is their sum."""

from decimal import Decimal

from django.test import override_settings

from receiver.ledger import balance
from receiver.models import PointsEntry


def entries():
    return list(PointsEntry.objects.order_by("id").values_list("user_id", "delta", "reason"))


def send(client, url, **params):
    return client.get(url, {"click_id": "c1", "transaction_id": "t1", "user_id": "alice", "payout": "1.50", **params})


def test_an_approved_conversion_credits_its_points(client, postback_url):
    send(client, postback_url)

    assert entries() == [("alice", 150, "conversion approved")]
    assert balance("alice") == 150


def test_a_pending_conversion_credits_nothing_until_approved(client, postback_url):
    send(client, postback_url, status="pending")
    assert entries() == []

    send(client, postback_url, status="approved")

    assert entries() == [("alice", 150, "conversion approved")]


def test_a_reversal_debits_once_and_a_reapproval_credits_again(client, network, postback_url):
    network.allow_reapproval = True
    network.save()
    send(client, postback_url)
    send(client, postback_url, status="chargeback")
    send(client, postback_url, status="rejected")
    send(client, postback_url, status="approved")

    assert [delta for _, delta, _ in entries()] == [150, -150, 150]
    assert balance("alice") == 150


def test_a_duplicate_writes_no_entry(client, postback_url):
    send(client, postback_url)
    send(client, postback_url)

    assert len(entries()) == 1


def test_the_users_points_come_from_their_click(client, postback_url, click):
    client.get(postback_url, {"click_id": click.click_id, "payout": "1"})

    assert entries() == [("alice", 100, "conversion approved")]


def test_an_offer_rate_wins_over_the_house_rate(client, postback_url, click):
    click.offer.points_rate = Decimal("10")
    click.offer.save()

    client.get(postback_url, {"click_id": click.click_id, "payout": "2.55"})

    assert balance("alice") == 26


@override_settings(POINTS_PER_UNIT=Decimal("1000"))
def test_the_house_rate_is_a_setting(client, postback_url):
    send(client, postback_url, payout="0.0125")

    assert balance("alice") == 13


def test_test_conversions_and_anonymous_ones_earn_nothing(client, postback_url):
    send(client, postback_url, status="test")
    client.get(postback_url, {"click_id": "c2", "payout": "5"})

    assert entries() == []
