"""A partner's stats per day: deliveries, conversions delivered, success rate, payouts and points, theirs only."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from partners.portal.stats import daily


def stats_path(partner):
    return f"/portal/partners/{partner.pk}/stats/"


def test_each_day_counts_what_was_delivered_and_nets_take_backs(partner, other_partner, make_delivery):
    today = timezone.localdate()
    yesterday = timezone.now() - timedelta(days=1)
    money = {"amount_currency": "USD"}
    make_delivery(partner, "a", state="succeeded", effect="credit", amount=Decimal("2.50"), points=25, **money)
    make_delivery(partner, "b", state="succeeded", effect="credit", amount=Decimal("1.00"), points=10, **money)
    make_delivery(partner, "c", state="succeeded", effect="debit", amount=Decimal("1.00"), points=10, **money)
    make_delivery(partner, "d", state="failed", effect="credit", amount=Decimal("9.00"), points=90, **money)
    make_delivery(partner, "e", state="skipped")
    make_delivery(partner, "f", state="retrying")
    make_delivery(
        partner, "old", state="succeeded", effect="credit", amount=Decimal("4"), created_at=yesterday, **money
    )
    make_delivery(other_partner, "theirs", state="succeeded", effect="credit", amount=Decimal("100"), **money)

    days = daily(partner, today - timedelta(days=2), today)

    assert [day.day for day in days] == [today, today - timedelta(days=1), today - timedelta(days=2)]
    now = days[0]
    assert (now.deliveries, now.succeeded, now.failed, now.conversions_delivered) == (5, 3, 1, 3)
    assert now.success_rate == Decimal("75.0")
    assert now.payouts == {"USD": Decimal("2.50")}
    assert now.points == 25
    assert days[1].payouts == {"USD": Decimal("4")}
    assert days[2].deliveries == 0
    assert days[2].success_rate is None


def test_the_page_shows_the_period_with_a_total(portal_client, partner, make_delivery):
    money = {"amount_currency": "EUR", "effect": "credit"}
    make_delivery(partner, "a", state="succeeded", amount=Decimal("1.25"), points=5, **money)
    make_delivery(partner, "b", state="failed", amount=Decimal("1.25"), points=5, **money)

    response = portal_client.get(stats_path(partner))

    assert response.status_code == 200
    assert len(response.context["days"]) == 30
    page = response.content.decode()
    assert "1.25 EUR" in page
    assert "50.0%" in page


def test_a_bad_period_is_refused(portal_client, partner):
    today = timezone.localdate()

    response = portal_client.get(
        stats_path(partner), {"date_from": today.isoformat(), "date_to": (today - timedelta(days=1)).isoformat()}
    )

    assert "the period ends before it starts" in response.content.decode()
    assert response.context["days"] == []


def test_another_partners_stats_are_404(portal_client, other_partner):
    assert portal_client.get(stats_path(other_partner)).status_code == 404
