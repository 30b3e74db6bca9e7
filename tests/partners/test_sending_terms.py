"""attempt() renders and pays from this process's copy of partners and offer shares, reloaded after any change."""

from decimal import Decimal

import pytest
import responses
from django.db.models import QuerySet

from partners import outbox
from partners.delivery import attempt
from partners.models import Delivery, OfferShare, Partner, State
from receiver.models import Offer
from tests.support.config import token_changed_elsewhere

URL = "https://p.example/pb"


@pytest.fixture
def partner(db):
    return Partner.objects.create(name="Pub", postback_url=URL + "?amount={payout}", share_value=Decimal("50"))


@pytest.fixture
def offer(network):
    return Offer.objects.create(network=network, name="Survey", url="https://acme.example/?s={click_id}")


@pytest.fixture
def pending(client, network, offer, partner, monkeypatch):
    """Deliveries routed from real postbacks at once, left pending (nothing queued) so that the test attempts them."""
    monkeypatch.setattr("partners.forwarding.wake_drainer", outbox.route)

    def create(click_id):
        client.get(f"/postback/{network.key}/", {"click_id": click_id, "offer_id": offer.pk, "payout": "2.00"})
        return Delivery.objects.get(event__conversion__click_id=click_id, state=State.PENDING)

    return create


@responses.activate
def test_a_template_changed_by_another_process_is_used_by_the_next_attempt(partner, pending):
    responses.get(URL)
    attempt(pending("c1").pk)

    QuerySet(model=Partner).filter(pk=partner.pk).update(postback_url=URL + "?paid={payout}")
    token_changed_elsewhere()
    attempt(pending("c2").pk)

    assert [call.request.url for call in responses.calls] == [URL + "?amount=1.00", URL + "?paid=1.00"]


@responses.activate
def test_an_offer_share_added_by_another_process_is_paid_by_the_next_attempt(partner, offer, pending):
    responses.get(URL)
    attempt(pending("c1").pk)

    QuerySet(model=OfferShare).bulk_create([OfferShare(partner=partner, offer=offer, share_value=Decimal("80"))])
    token_changed_elsewhere()
    attempt(pending("c2").pk)

    assert Delivery.objects.get(event__conversion__click_id="c2").amount == Decimal("1.60")
    assert responses.calls[1].request.url == URL + "?amount=1.60"


@responses.activate
def test_an_offer_share_changed_here_is_paid_by_the_next_attempt(partner, offer, pending):
    responses.get(URL)
    share = OfferShare.objects.create(partner=partner, offer=offer, share_value=Decimal("80"))
    attempt(pending("c1").pk)

    share.share_value = Decimal("10")
    share.save()
    attempt(pending("c2").pk)

    assert [call.request.url for call in responses.calls] == [URL + "?amount=1.60", URL + "?amount=0.20"]
