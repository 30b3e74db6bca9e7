"""Payouts in the house currency at the conversion date's rate, and a missing rate that says so."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from receiver.models import Conversion, ExchangeRate, Offer, OfferMapping


def rate(currency, days_from_today, value):
    day = timezone.now().date() + datetime.timedelta(days=days_from_today)
    ExchangeRate.objects.create(currency=currency, date=day, rate=Decimal(value))


def test_a_house_currency_payout_needs_no_rate(client, postback_url):
    client.get(postback_url, {"click_id": "c1", "payout": "2.50", "currency": "USD"})

    conversion = Conversion.objects.get()
    assert (conversion.house_payout, conversion.exchange_rate, conversion.rate_state) == (
        Decimal("2.5"),
        Decimal(1),
        "converted",
    )


def test_the_latest_rate_on_or_before_the_conversion_date_is_used(client, postback_url):
    rate("EUR", -14, "1.10")
    rate("EUR", -5, "1.20")
    rate("EUR", 1, "9.99")

    client.get(postback_url, {"click_id": "c1", "payout": "10.00", "currency": "EUR"})

    conversion = Conversion.objects.get()
    assert (conversion.payout, conversion.currency) == (Decimal("10"), "EUR")
    assert (conversion.exchange_rate, conversion.house_payout) == (Decimal("1.2"), Decimal("12"))


def test_a_missing_rate_is_a_visible_state_never_a_silent_one(client, postback_url):
    rate("EUR", 1, "1.20")

    client.get(postback_url, {"click_id": "c1", "payout": "10.00", "currency": "EUR"})

    conversion = Conversion.objects.get()
    assert (conversion.rate_state, conversion.house_payout, conversion.exchange_rate) == ("missing_rate", None, None)


def test_reconvert_fixes_a_missing_rate_and_credits_the_points(client, postback_url, capsys):
    client.get(postback_url, {"click_id": "c1", "payout": "1.00", "currency": "GBP", "user_id": "alice"})
    rate("GBP", -1, "1.25")

    call_command("reconvert", "--json")

    conversion = Conversion.objects.get()
    assert (conversion.rate_state, conversion.house_payout) == ("converted", Decimal("1.25"))
    assert '"converted": 1' in capsys.readouterr().out
    assert list(conversion.points_entries.values_list("delta", "reason")) == [(125, "reconverted")]


@pytest.mark.usefixtures("nothing_sent", "partner")
def test_a_new_rate_from_reconvert_is_the_conversions_own_event_never_forwarded(client, postback_url):
    from partners.models import Delivery

    rate("EUR", -1, "1.10")
    client.get(postback_url, {"click_id": "c1", "payout": "2.00", "currency": "EUR", "user_id": "alice"})
    ExchangeRate.objects.filter(currency="EUR").update(rate=Decimal("1.20"))

    call_command("reconvert", "--all", stdout=StringIO())
    call_command("reconvert", "--all", stdout=StringIO())  # the same rate again: nothing new

    conversion = Conversion.objects.get()
    repriced = conversion.events.get(kind="repriced")
    assert (repriced.from_status, repriced.to_status, repriced.payout) == ("approved", "approved", Decimal("2.00"))
    assert list(conversion.points_entries.order_by("id").values_list("delta", "event__kind")) == [
        (220, "created"),
        (20, "repriced"),
    ]
    assert not repriced.deliveries.exists()
    assert Delivery.objects.count() == 1


def test_import_rates_loads_and_updates_a_csv(tmp_path, db, capsys):
    ExchangeRate.objects.create(currency="EUR", date=datetime.date(2026, 11, 1), rate=Decimal("1.00"))
    path = tmp_path / "rates.csv"
    path.write_text("currency,date,rate\neur,2026-11-01,1.08\nGBP,2026-11-01,1.27\n")

    call_command("import_rates", str(path), "--json")

    assert dict(ExchangeRate.objects.values_list("currency", "rate")) == {
        "EUR": Decimal("1.08"),
        "GBP": Decimal("1.27"),
    }
    assert '"created": 1' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("cur,date,rate\n", "first line must be"),
        ("currency,date,rate\nEUR,01/11/2026,1.1\n", "line 2"),
        ("currency,date,rate\nEURO,2026-11-01,1.1\n", "three-letter"),
        ("currency,date,rate\nEUR,2026-11-01,0\n", "positive"),
    ],
)
def test_import_rates_names_the_bad_line_and_imports_nothing(tmp_path, db, content, problem):
    from django.core.management.base import CommandError

    path = tmp_path / "rates.csv"
    path.write_text(content)

    with pytest.raises(CommandError, match=problem):
        call_command("import_rates", str(path))

    assert not ExchangeRate.objects.exists()


def test_a_mapped_survey_id_lands_on_its_campaign(client, network, postback_url):
    campaign = Offer.objects.create(network=network, name="Survey campaign", url="https://n.example/?s={click_id}")
    OfferMapping.objects.create(network=network, parameter="survey_id", value="s-77", offer=campaign)

    client.get(postback_url, {"click_id": "no-click", "survey_id": "s-77"})
    client.get(postback_url, {"click_id": "other", "survey_id": "s-00"})

    offers = dict(Conversion.objects.values_list("click_id", "offer"))
    assert offers == {"no-click": campaign.pk, "other": None}


def test_a_mapping_of_another_network_does_not_apply(client, network, postback_url):
    from receiver.models import Network

    other = Network.objects.create(name="Other")
    campaign = Offer.objects.create(network=other, name="Theirs", url="https://n.example/?s={click_id}")
    OfferMapping.objects.create(network=other, parameter="survey_id", value="s-77", offer=campaign)

    client.get(postback_url, {"click_id": "c1", "survey_id": "s-77"})

    assert Conversion.objects.get().offer is None
