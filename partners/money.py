"""The partner's share of a payout and the user's points, in Decimal from end to end."""

from decimal import ROUND_HALF_UP, Decimal

from .models import PointsMode, ShareType

MONEY_PLACES = Decimal("0.000001")
HUNDRED = Decimal(100)


def partner_share(partner, gross):
    """What the partner is paid for a conversion that paid us `gross`."""
    if partner.share_type == ShareType.FIXED:
        return partner.share_value.quantize(MONEY_PLACES)
    return (gross * partner.share_value / HUNDRED).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)


def points(partner, share):
    """Whole points for the user: a rate per unit of the partner's share, or a fixed number."""
    if partner.points_mode == PointsMode.FIXED:
        value = partner.points_value
    else:
        value = share * partner.points_value
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
