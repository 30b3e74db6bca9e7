"""What each delivery of a conversion event pays, fixed when it is made: credits, take-backs, waits for a rate.

A partner holds, from one conversion, the net of what its deliveries credited and debited. An approval credits
the share of the event's payout on the partner's terms in force then; a payout change under approval credits or
debits the difference; a reversal or a rejection takes back exactly what is held, in the currency it was given;
a pending event moves nothing (its {payout} shows what approval would pay). Retries and resends send the stored
amounts, so later edits of shares, rates or payouts never change what an old event pays.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from receiver.currency import rate_on
from receiver.lifecycle import Status
from receiver.models import EventKind

from .models import Effect, PayoutBasis, ShareType, State
from .money import MONEY_PLACES, partner_share, points, round_payout

ZERO = Decimal(0)
TAKE_BACK = (Status.REVERSED, Status.REJECTED)
# Deliveries never meant to reach the partner hold nothing; a failed one still does, for the operator to resend.
NOT_HELD = (State.SKIPPED, State.CANCELLED)


@dataclass
class Held:
    """What a partner holds from a conversion: its earlier deliveries' credits minus their debits."""

    amount: Decimal = ZERO
    house: Decimal | None = ZERO
    points: int = 0
    currency: str = ""
    gross: Decimal | None = None  # of the latest credit: the {gross_payout} of a take-back
    waiting: bool = False  # an earlier delivery still waits for a rate: so does this one

    def add(self, delivery):
        if delivery.state == State.WAITING_RATE:
            self.waiting = True
            return
        if delivery.effect == Effect.NONE:
            return
        sign = 1 if delivery.effect == Effect.CREDIT else -1
        self.amount += sign * delivery.amount
        self.points += sign * (delivery.points or 0)
        self.house = (
            None if self.house is None or delivery.house_amount is None else self.house + sign * delivery.house_amount
        )
        self.currency = self.currency or delivery.amount_currency
        if sign > 0:
            self.gross = delivery.gross


def held_by_destination(conversion, before=None):
    """{destination id: Held} from the conversion's deliveries (those made before delivery id `before`, if given)."""
    from .models import Delivery

    rows = Delivery.objects.filter(event__conversion=conversion).exclude(state__in=NOT_HELD).order_by("id")
    if before is not None:
        rows = rows.filter(id__lt=before)
    held = {}
    for row in rows.only(
        "destination_id", "state", "effect", "amount", "house_amount", "points", "amount_currency", "gross"
    ):
        held.setdefault(row.destination_id, Held()).add(row)
    return held


def basis_gross(event, partner):
    """(gross, currency) on the partner's payout basis; None when that needs a rate the conversion lacks."""
    conversion = event.conversion
    if partner.payout_basis == PayoutBasis.ORIGINAL:
        return event.payout, conversion.currency
    gross = in_house(event.payout, conversion.currency, conversion)
    return None if gross is None else (gross, settings.HOUSE_CURRENCY)


def rate_of(currency, conversion):
    """House units per unit of `currency` for this conversion: its own rate, else that currency's on its date."""
    if currency == settings.HOUSE_CURRENCY:
        return Decimal(1)
    if currency == conversion.currency:
        return conversion.exchange_rate
    return rate_on(currency, conversion.created_at.date())


def in_house(amount, currency, conversion):
    """`amount` in the house currency, at the conversion's rates; None while a rate is missing."""
    rate = rate_of(currency, conversion)
    return None if rate is None else (amount * rate).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)


def fixed_share(delivery, event):
    """(amount, currency) of a fixed share: its value in its own currency, never more than the event pays.

    None while a rate the comparison needs is missing.
    """
    currency = delivery.share_currency or settings.HOUSE_CURRENCY
    conversion = event.conversion
    gross = event.payout
    if currency != conversion.currency:
        gross_house, rate = in_house(event.payout, conversion.currency, conversion), rate_of(currency, conversion)
        if gross_house is None or rate is None:
            return None
        gross = (gross_house / rate).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)
    return min(delivery.share_value, gross), currency


def fix(delivery, event, partner, offer_share, held):
    """Set the delivery's effect and amounts (not saved); a delivery that needs a missing rate waits for it."""
    conversion = event.conversion
    delivery.previous_amount = held.amount
    if delivery.share_value is None:  # first pricing: the terms in force at the event, kept for a later one
        source = offer_share or partner
        delivery.share_type, delivery.share_value = source.share_type, source.share_value
        delivery.share_currency = source.share_currency if source.share_type == ShareType.FIXED else ""
    if held.waiting:
        return _wait(delivery)
    basis = basis_gross(event, partner)
    if event.to_status in TAKE_BACK:
        delivery.effect = Effect.DEBIT if held.amount > 0 else Effect.NONE
        delivery.amount, delivery.points = held.amount, held.points
        # Nothing held (never approved): the amounts of this event on the partner's basis, as far as known.
        delivery.gross = held.gross if held.gross is not None else basis[0] if basis else event.payout
        delivery.amount_currency = held.currency or (basis[1] if basis else conversion.currency)
        delivery.house_amount = held.house if held.amount > 0 else ZERO
        return delivery
    priced = fixed_share(delivery, event) if delivery.share_type == ShareType.FIXED else basis
    if basis is None or priced is None:
        return _wait(delivery)
    gross = basis[0]
    if delivery.share_type == ShareType.FIXED:
        share, currency = priced
    else:
        share, currency = partner_share(partner, gross, delivery), basis[1]
    share = round_payout(share, currency, partner.payout_places)
    worth = int(points(partner, share))
    delivery.gross, delivery.amount_currency = gross, currency
    if event.to_status != Status.APPROVED:
        delivery.effect, delivery.amount, delivery.points = Effect.NONE, share, worth
    else:
        delta = share - held.amount
        delivery.effect = Effect.CREDIT if delta > 0 else Effect.DEBIT if delta < 0 else Effect.NONE
        delivery.amount, delivery.points = abs(delta), abs(worth - held.points)
    delivery.house_amount = in_house(delivery.amount, currency, conversion)
    return delivery


def fix_existing(delivery, offer_shares):
    """Price a delivery made before it could be (it waited for a rate, or predates fixed amounts): what the
    partner holds is what its earlier deliveries of the conversion gave."""
    conversion = delivery.event.conversion
    held = held_by_destination(conversion, before=delivery.pk).get(delivery.destination_id, Held())
    offer_share = offer_shares.get((delivery.destination_id, conversion.offer_id))
    return fix(delivery, delivery.event, delivery.destination, offer_share, held)


def _wait(delivery):
    delivery.state = State.WAITING_RATE
    delivery.effect, delivery.amount, delivery.house_amount, delivery.points = Effect.NONE, None, None, None
    return delivery


def macro_amounts(delivery):
    """{payout}, {previous_payout} and {payout_delta} of a delivery, as signed Decimals.

    An adjustment's {payout} is the partner's new share (what it held plus the difference); every other event's
    is the amount it credits or takes back (a pending one: what approval would pay).
    """
    sign = {Effect.CREDIT: 1, Effect.DEBIT: -1}.get(delivery.effect, 0)
    delta = sign * delivery.amount
    previous = delivery.previous_amount or ZERO
    payout = previous + delta if delivery.event.kind == EventKind.ADJUSTMENT and sign else delivery.amount
    return payout, previous, delta
