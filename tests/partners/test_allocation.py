"""Offers whose partners' shares exceed their payout: who counts, which share, and where the admin is warned."""

from decimal import Decimal

import pytest
from django.utils import timezone

from partners.allocation import over_allocated
from partners.models import NetworkPostback, OfferShare, Partner
from receiver.models import Network, Offer
from tests.support.permissions import staff_with


def make_partner(name, share="100", share_type="percent", **fields):
    return Partner.objects.create(
        name=name,
        slug=name.lower(),
        postback_url="https://p.example/?c={click_id}",
        share_type=share_type,
        share_value=Decimal(share),
        **fields,
    )


@pytest.fixture
def offer(db):
    acme = Network.objects.create(name="Acme")
    return Offer.objects.create(network=acme, name="Survey", url="https://a.example/?s={click_id}", payout=Decimal(2))


def test_an_offer_whose_partners_shares_exceed_its_payout_is_flagged(offer, django_assert_max_num_queries):
    pub = make_partner("Pub", "60")
    wall = make_partner("Wall", "1.00", "fixed")

    with django_assert_max_num_queries(5):
        (row,) = over_allocated()

    assert (row.offer, row.total) == (offer, Decimal("2.20"))
    assert row.shares == [(pub, Decimal("1.20")), (wall, Decimal("1.00"))]
    assert row.summary == "partners' shares 2.20 USD exceed the payout 2.00 USD (Pub 1.20, Wall 1.00)"


def test_shares_that_add_up_to_the_payout_exactly_are_not_flagged(offer):
    make_partner("Pub", "60")
    make_partner("Wall", "0.80", "fixed")

    assert over_allocated() == []


def test_a_partners_share_on_the_offer_overrides_its_own(offer):
    pub = make_partner("Pub", "100")
    make_partner("Wall", "10")
    OfferShare.objects.create(partner=pub, offer=offer, share_type="fixed", share_value=Decimal("1.50"))
    other = Offer.objects.create(network=offer.network, name="Game", url="https://a/?{click_id}", payout=Decimal(2))

    (row,) = over_allocated()

    assert (row.offer, row.total) == (other, Decimal("2.20"))


def test_partners_that_never_receive_the_offers_approvals_do_not_count(offer):
    beta = Network.objects.create(name="Beta")
    elsewhere = Offer.objects.create(network=beta, name="Shop", url="https://b/?{click_id}", is_active=False)
    make_partner("Pub", "60")
    make_partner("Off", "60", is_active=False)
    NetworkPostback.objects.create(name="Acme postback", network=offer.network, postback_url="https://a/")
    make_partner("Pending only", "60", statuses=["pending"])
    make_partner("Big only", "60", min_payout=Decimal("5"))
    make_partner("Beta only", "60").networks.add(beta)
    make_partner("Shop only", "60").offers.add(elsewhere)

    assert over_allocated() == []


def test_an_auto_disabled_partner_still_counts(offer):
    make_partner("Pub", "60")
    make_partner("Wall", "60", disabled_at=timezone.now())

    assert [row.offer for row in over_allocated()] == [offer]


def test_partners_paid_only_for_their_own_clicks_add_only_the_largest_share(offer):
    make_partner("Pub", "80", scope="own_clicks")
    wall = make_partner("Wall", "90", scope="own_clicks")

    assert over_allocated() == []

    mail = make_partner("Mail", "20")

    (row,) = over_allocated()
    assert (row.total, row.shares) == (Decimal("2.20"), [(mail, Decimal("0.40")), (wall, Decimal("1.80"))])


def test_an_inactive_offer_is_not_flagged(offer):
    make_partner("Pub", "60")
    make_partner("Wall", "60")
    Offer.objects.filter(pk=offer.pk).update(is_active=False)

    assert over_allocated() == []


@pytest.fixture
def over(offer):
    return {"pub": make_partner("Pub", "60"), "wall": make_partner("Wall", "60"), "mail": make_partner("Mail", "0")}


WARNING = "Survey (Acme): partners&#x27; shares 2.40 USD exceed the payout 2.00 USD (Mail 0.00, Pub 1.20, Wall 1.20)"


def test_the_dashboard_lists_the_offers_whose_shares_exceed_their_payout(client, offer, over):
    client.force_login(staff_with("partners.view_dashboard"))

    html = client.get("/admin/stats/").content.decode()

    box = html[html.index('id="stats-over-allocated"') :]
    assert f"/admin/receiver/offer/{offer.pk}/change/" in box
    assert WARNING.split(": ", 1)[1] in box


def test_the_dashboard_shows_no_warning_when_every_offer_pays_its_partners(client, offer):
    make_partner("Pub", "60")
    client.force_login(staff_with("partners.view_dashboard"))

    assert 'id="stats-over-allocated"' not in client.get("/admin/stats/").content.decode()


def test_the_partner_list_warns_of_offers_whose_shares_exceed_their_payout(admin_client, over):
    html = admin_client.get("/admin/partners/partner/").content.decode()

    assert "Shares exceed the offer&#x27;s payout" in html
    assert WARNING in html


def test_a_partners_page_warns_only_of_the_offers_it_takes_a_share_of(admin_client, over):
    other = make_partner("Other", "60")
    other.offers.add(Offer.objects.create(network=Network.objects.get(), name="Game", url="https://a/?{click_id}"))

    assert WARNING in admin_client.get(f"/admin/partners/partner/{over['pub'].pk}/change/").content.decode()
    assert "Shares exceed" not in admin_client.get(f"/admin/partners/partner/{other.pk}/change/").content.decode()
