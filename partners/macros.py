"""The values behind each macro, for a real conversion event or for a test postback."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from postbacks_project.cli import money_text
from receiver.models import EventKind

from .models import PayoutBasis
from .money import MONEY_PLACES, partner_share, points


def build_values(
    *,
    partner,
    gross,
    currency,
    status,
    event,
    moment,
    click_id="",
    offer_id="",
    offer_name="",
    conversion_id="",
    transaction_id="",
    goal="",
    conversion_type="",
    user_id="",
    username="",
    network="",
    custom=None,
    points_override=None,
    terms=None,
    share=None,
):
    """Every macro's value; the share follows the partner's terms, or an offer's (`terms`), and points follow it.

    `share` is the share already computed by the caller (a delivery records what it sent).
    """
    if share is None:
        share = partner_share(partner, gross, terms)
    return {
        "click_id": click_id,
        "status": status,
        "payout": money_text(share),
        "gross_payout": money_text(gross),
        "currency": currency,
        "offer_id": offer_id,
        "offer_name": offer_name,
        "conversion_id": conversion_id,
        "transaction_id": transaction_id,
        "goal": goal,
        "conversion_type": conversion_type,
        "user_id": user_id,
        "username": username or user_id,
        "points": str(points_override if points_override is not None else points(partner, share)),
        "network": network,
        "event": event,
        "timestamp": str(int(moment.timestamp())),
        "iso_time": moment.isoformat(),
        "custom": custom or {},
    }


def event_name(event):
    """What partners see in {event}: conversion, status_change, or test for a network's test conversion."""
    if event.conversion.is_test:
        return "test"
    return "conversion" if event.kind == EventKind.CREATED else "status_change"


def event_amount(event, partner):
    """(gross, currency) on the partner's payout basis; the original while a house rate is missing."""
    conversion = event.conversion
    if partner.payout_basis == PayoutBasis.HOUSE and conversion.exchange_rate is not None:
        gross = (event.payout * conversion.exchange_rate).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)
        return gross, settings.HOUSE_CURRENCY
    return event.payout, conversion.currency


@dataclass(frozen=True)
class EventShare:
    """The gross on the partner's payout basis, its currency, and the partner's share of it."""

    gross: Decimal
    currency: str
    amount: Decimal


def event_share(event, partner, offer_shares=None):
    """The partner's share of an event; `offer_shares` ({(partner id, offer id): OfferShare}) spares the query."""
    conversion = event.conversion
    gross, currency = event_amount(event, partner)
    terms = None
    if conversion.offer_id and offer_shares is not None:
        terms = offer_shares.get((partner.pk, conversion.offer_id))
    elif conversion.offer_id:
        terms = partner.offer_shares.filter(offer_id=conversion.offer_id).first()
    return EventShare(gross, currency, partner_share(partner, gross, terms))


def event_values(event, partner, share=None):
    """The macro values of a real event; pass `share` (from event_share) to render exactly what is recorded."""
    conversion = event.conversion
    custom = conversion.custom_data or {}
    share = share or event_share(event, partner)
    return build_values(
        partner=partner,
        gross=share.gross,
        currency=share.currency,
        share=share.amount,
        status=event.to_status,
        event=event_name(event),
        moment=event.created_at,
        click_id=conversion.click_id,
        offer_id=str(conversion.offer_id or conversion.external_offer_id),
        offer_name=conversion.offer.name if conversion.offer else "",
        conversion_id=str(conversion.pk),
        transaction_id=conversion.transaction_id,
        goal=conversion.goal,
        conversion_type=conversion.conversion_type,
        user_id=conversion.user_id,
        username=str(custom.get("username", "")),
        network=conversion.network.name,
        custom=custom,
    )


def sample_values(partner):
    """A made-up approved conversion, for save-time checks and the admin preview."""
    return build_values(
        partner=partner,
        gross=Decimal("2.50"),
        currency="USD",
        status="approved",
        event="conversion",
        moment=timezone.now(),
        click_id="abc123 & co #1",
        offer_id="42",
        offer_name="Daily Survey",
        conversion_id="1001",
        transaction_id="tx-7",
        goal="install",
        conversion_type="install",
        user_id="user-9",
        username="alice",
        network="Sample Network",
        custom={"survey_id": "s-1"},
    )
