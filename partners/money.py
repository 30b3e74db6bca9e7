"""The partner's share of a payout and the user's points, in Decimal from end to end."""

from decimal import ROUND_HALF_UP, Decimal

from .models import PointsMode, ShareType

MONEY_PLACES = Decimal("0.000001")
HUNDRED = Decimal(100)


def partner_share(partner, gross, terms=None):
    """What the partner is paid for a conversion that paid us `gross`, on its own terms or an offer's (`terms`)."""
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
