"""The points ledger: each approve, reversal or chargeback of a conversion is one entry for its user."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Sum

from .lifecycle import Status
from .models import PointsEntry, RateState


def points_for(conversion):
    """Whole points an approved conversion is worth; None while its house payout is unknown (missing rate).

    A network whose virtual-currency amount is the user's points (Network.currency_points) decides them itself.
    """
    if conversion.network.currency_points and conversion.currency_amount is not None:
        return int(abs(conversion.currency_amount).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if conversion.rate_state == RateState.MISSING_RATE:
        return None
    offer = conversion.offer
    rate = offer.points_rate if offer is not None and offer.points_rate is not None else settings.POINTS_PER_UNIT
    return int((conversion.house_payout * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def settle(conversion, event=None, reason="", fresh=False):
    """Add the entry that brings the conversion's points to what its status is worth now; return it or None.

    Approved is worth its points, any other status nothing: a reversal writes the negative entry
    once, and a re-approval credits again. `fresh` says the conversion has no entries yet (saves a query).
    """
    entry = entry_for(conversion, event, reason, fresh)
    if entry is not None:
        entry.save()
    return entry


def entry_for(conversion, event=None, reason="", fresh=False):
    """The entry settle() would add, not saved; None when the conversion's points need none."""
    if conversion.is_test or not conversion.user_id:
        return None
    worth = points_for(conversion) if conversion.status == Status.APPROVED else 0
    if worth is None:
        return None
    held = 0 if fresh else points_held(conversion)
    if worth == held:
        return None
    return PointsEntry(
        user_id=conversion.user_id,
        delta=worth - held,
        reason=reason or f"conversion {conversion.status}",
        conversion=conversion,
        event=event,
    )


def balance(user_id):
    return PointsEntry.objects.filter(user_id=user_id).aggregate(total=Sum("delta"))["total"] or 0


def points_held(conversion):
    """What the conversion's user holds from it now: the sum of its entries."""
    return conversion.points_entries.aggregate(total=Sum("delta"))["total"] or 0
