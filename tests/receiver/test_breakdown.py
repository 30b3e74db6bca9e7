"""Clicks, conversions by type, payouts and conversion rates per network, offer and conversion type."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from receiver import breakdown
from receiver.models import Click, Conversion, Network, NetworkClick, Offer


@pytest.fixture
def traffic(db):
    """Acme: 3 of our clicks and 1 network click on its survey, 2 installs (1 approved) and a test; Beta: 1 sale."""
    acme, beta = Network.objects.create(name="Acme"), Network.objects.create(name="Beta")
    survey = Offer.objects.create(network=acme, name="Survey", url="https://a.example/?s={click_id}")
    shop = Offer.objects.create(network=beta, name="Shop", url="https://b.example/?s={click_id}")
    ours = [Click.objects.create(offer=survey) for _ in range(3)]
    theirs = NetworkClick.objects.create(network=acme, offer=survey, click_id="N1")
    Click.objects.create(offer=shop, created_at=timezone.now() - timedelta(days=40))

    def convert(offer, kind, status, house, test=False, click=None, network_click=None):
        Conversion.objects.create(
            network=offer.network,
            offer=offer,
            known_click=click,
            network_click=network_click,
            click_id=f"c{Conversion.objects.count()}",
            conversion_type=kind,
            status=status,
            payout=Decimal(house),
            house_payout=Decimal(house),
            exchange_rate=Decimal(1),
            is_test=test,
        )

    # Two of Acme's four clicks converted, one ours and one the network's; a test conversion converts none.
    convert(survey, "install", "approved", "2.00", click=ours[0])
    convert(survey, "install", "rejected", "2.00", network_click=theirs)
    convert(survey, "install", "approved", "50.00", test=True, click=ours[1])
    convert(shop, "sale", "approved", "7.50")
    return acme


def window():
    now = timezone.now()
    return now - timedelta(days=1), now + timedelta(seconds=1)


def test_rows_per_network_offer_and_type_count_clicks_installs_payouts_and_rates(traffic, django_assert_num_queries):
    with django_assert_num_queries(5):
        result = breakdown.compute(*window())

    assert [row.as_dict() for row in result.by_network] == [
        {
            "name": "Acme",
            "clicks": 4,
            "converted_clicks": 2,
            "conversions": 2,
            "by_type": {"install": 2},
            "approved": 1,
            "payout": Decimal("2.00"),
            "conversion_rate": Decimal("50.00"),
        },
        {
            "name": "Beta",
            "clicks": 0,
            "converted_clicks": 0,
            "conversions": 1,
            "by_type": {"sale": 1},
            "approved": 1,
            "payout": Decimal("7.50"),
            "conversion_rate": None,
        },
    ]
    assert [(row.name, row.clicks, row.conversions) for row in result.by_offer] == [("Survey", 4, 2), ("Shop", 0, 1)]
    assert [(row.name, row.clicks, row.conversions, row.payout) for row in result.by_conversion_type] == [
        ("install", None, 2, Decimal("2.00")),
        ("sale", None, 1, Decimal("7.50")),
    ]


def test_a_network_narrows_every_table(traffic):
    result = breakdown.compute(*window(), network=traffic)

    assert [row.name for row in result.by_network] == ["Acme"]
    assert [row.name for row in result.by_conversion_type] == ["install"]
