"""Conversion of payouts into the house currency, at the latest rate on or before the conversion's date."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from .models import ExchangeRate, RateState

PLACES = Decimal("0.000001")


def rate_on(currency, day):
    """House units per unit of `currency` on `day`; None when no rate is known on or before it."""
    if currency == settings.HOUSE_CURRENCY:
        return Decimal(1)
    found = (
        ExchangeRate.objects.filter(currency=currency, date__lte=day).order_by("-date").values_list("rate", flat=True)
    )
    return found.first()


def reprice(conversion):
    """The house payout of a new payout, at the rate the conversion was converted at (not saved).

    A conversion's rate is fixed when it is made: only `manage.py reconvert` looks the rate up again.
    """
    rate = conversion.exchange_rate
    conversion.house_payout = None if rate is None else (conversion.payout * rate).quantize(PLACES, ROUND_HALF_UP)
    return conversion


def convert(conversion):
    """Fill the conversion's house payout, rate and rate state (not saved)."""
    rate = rate_on(conversion.currency, conversion.created_at.date())
    conversion.exchange_rate = rate
    if rate is None:
        conversion.house_payout = None
        conversion.rate_state = RateState.MISSING_RATE
    else:
        conversion.house_payout = (conversion.payout * rate).quantize(PLACES, rounding=ROUND_HALF_UP)
        conversion.rate_state = RateState.CONVERTED
    return conversion
