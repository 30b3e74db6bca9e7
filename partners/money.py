"""The partner's share of a payout and the user's points, in Decimal from end to end."""

from decimal import ROUND_HALF_UP, Decimal

from .models import PointsMode, ShareType

MONEY_PLACES = Decimal("0.000001")
HUNDRED = Decimal(100)
# ISO 4217 currencies whose minor unit is not the cent; every other code has two decimals.
MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX"), 0),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def minor_unit(currency):
    return MINOR_UNITS.get(currency.upper(), 2)


def round_payout(amount, currency, places=None):
    """Money as it leaves the hub: half up, to `places` or the currency's minor unit (1.005 USD -> 1.01)."""
    digits = minor_unit(currency) if places is None else places
    return amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def partner_share(partner, gross, terms=None):
    """What the partner is paid for a conversion that paid us `gross`, on its own terms or `terms` (anything with a
    share_type and share_value: an offer share, or the terms a delivery kept from its event)."""
    terms = terms or partner
    if terms.share_type == ShareType.FIXED:
        return terms.share_value.quantize(MONEY_PLACES)
    return (gross * terms.share_value / HUNDRED).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)


def points(partner, share):
    """Whole points for the user: a rate per unit of the partner's share, or a fixed number."""
    if partner.points_mode == PointsMode.FIXED:
        value = partner.points_value
    else:
        value = share * partner.points_value
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
