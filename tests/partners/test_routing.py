"""Which partners get a conversion event: scope, networks, offers, statuses and minimum payout."""

from decimal import Decimal

import pytest

from partners import delivery as deliveries
from partners import outbox
from partners.models import Delivery, Partner, Scope
from receiver.models import Click, Network


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="P", slug="pub-1", postback_url="https://p.example/pb?c={click_id}")


def send(client, network, django_capture_on_commit_callbacks, **params):
    """A postback, then the worker's routing of its event (the drainer it wakes after commit is held back)."""
    with django_capture_on_commit_callbacks(execute=False):
        client.get(f"/postback/{network.key}/", {"click_id": "c1", **params})
    outbox.route()
    return Delivery.objects.order_by("-id").first()


def test_every_active_partner_gets_a_pending_delivery(client, network, partner, django_capture_on_commit_callbacks):
    delivery = send(client, network, django_capture_on_commit_callbacks)

    assert (delivery.destination_id, delivery.state, delivery.reason) == (partner.pk, "pending", "")


def test_an_inactive_partner_gets_nothing(client, network, partner, django_capture_on_commit_callbacks):
    partner.is_active = False
    partner.save()

    assert send(client, network, django_capture_on_commit_callbacks) is None


def test_an_auto_disabled_partners_delivery_is_parked_until_it_is_re_enabled(
    client, network, partner, django_capture_on_commit_callbacks
):
    deliveries.disable(partner, "410 Gone")

    delivery = send(client, network, django_capture_on_commit_callbacks)

    assert (delivery.state, delivery.reason) == ("parked", deliveries.parked_because(Partner.objects.get()))
    assert "auto-disabled (410 Gone)" in delivery.reason
    assert delivery.amount is not None  # fixed at the event, like any delivery


def test_own_clicks_scope_skips_clicks_of_other_partners(
    client, network, offer, partner, django_capture_on_commit_callbacks
):
    partner.scope = Scope.OWN_CLICKS
    partner.save()
    mine = Click.objects.create(offer=offer, partner_slug="pub-1")
    theirs = Click.objects.create(offer=offer, partner_slug="pub-2")

    kept = send(client, network, django_capture_on_commit_callbacks, click_id=mine.click_id)
    skipped = send(client, network, django_capture_on_commit_callbacks, click_id=theirs.click_id)

    assert kept.state == "pending"
    assert (skipped.state, skipped.reason) == ("skipped", "the click did not come through this partner")


def test_a_network_filter_skips_other_networks(client, network, partner, django_capture_on_commit_callbacks):
    partner.networks.add(Network.objects.create(name="Other"))

    delivery = send(client, network, django_capture_on_commit_callbacks)

    assert delivery.state == "skipped"
    assert "network" in delivery.reason


def test_an_offer_filter_keeps_its_offer(client, network, click, partner, django_capture_on_commit_callbacks):
    partner.offers.add(click.offer)

    assert send(client, network, django_capture_on_commit_callbacks, click_id=click.click_id).state == "pending"
    assert send(client, network, django_capture_on_commit_callbacks, click_id="stranger").state == "skipped"


def test_a_status_filter_skips_other_statuses(client, network, partner, django_capture_on_commit_callbacks):
    partner.statuses = ["approved"]
    partner.save()

    delivery = send(client, network, django_capture_on_commit_callbacks, status="pending")

    assert delivery.reason == "status pending is not one of approved"


def test_a_minimum_payout_skips_smaller_conversions(client, network, partner, django_capture_on_commit_callbacks):
    partner.min_payout = Decimal("1.00")
    partner.save()

    delivery = send(client, network, django_capture_on_commit_callbacks, payout="0.5")

    assert delivery.reason == "payout 0.5 USD is below the minimum 1"


def test_a_status_change_is_a_second_delivery_and_a_duplicate_is_none(
    client, network, partner, django_capture_on_commit_callbacks
):
    send(client, network, django_capture_on_commit_callbacks, status="pending")
    send(client, network, django_capture_on_commit_callbacks, status="approved")
    send(client, network, django_capture_on_commit_callbacks, status="approved")

    assert Delivery.objects.count() == 2
