"""The values behind each macro, for a real conversion event or for a test postback."""

from decimal import Decimal

from django.utils import timezone

from postbacks_project.cli import money_text
from receiver.models import EventKind
from receiver.params import SUBS

from .amounts import ZERO, macro_amounts
from .models import Effect
from .money import partner_share, points, round_payout


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
    subs=None,
    points_override=None,
    terms=None,
    share=None,
    previous=ZERO,
    delta=None,
    effect=Effect.CREDIT,
):
    """Every macro's value; the share follows the partner's terms, or an offer's (`terms`), and points follow it.

    `share` is the amount already fixed by the caller (a delivery sends what it recorded), with `previous`, the
    signed `delta` and the `effect` it has on the partner's books; without one, it is an approval's.
    """
    if share is None:
        share = round_payout(partner_share(partner, gross, terms), currency, partner.payout_places)

    def sent(amount):
        return f"{round_payout(amount, currency, partner.payout_places):f}"

    return {
        "click_id": click_id,
        "status": status,
        "payout": sent(share),
        "previous_payout": sent(previous),
        "payout_delta": sent(share if delta is None else delta),
        "effect": effect,
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
        **{name: (subs or {}).get(name, "") for name in SUBS},
        "custom": custom or {},
    }


def event_name(event):
    """What partners see in {event}: conversion, status_change, adjustment, or test for a network's test conversion."""
    if event.conversion.is_test:
        return "test"
    return {EventKind.CREATED: "conversion", EventKind.ADJUSTMENT: "adjustment"}.get(event.kind, "status_change")


def event_values(delivery, partner):
    """The macro values of a real event's delivery: exactly the amounts fixed when the delivery was made."""
    event = delivery.event
    payout, previous, delta = macro_amounts(delivery)
    conversion = event.conversion
    custom = conversion.custom_data or {}
    return build_values(
        partner=partner,
        gross=delivery.gross,
        currency=delivery.amount_currency,
        share=payout,
        previous=previous,
        delta=delta,
        effect=delivery.effect,
        points_override=delivery.points,
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
        subs={name: getattr(conversion, name) for name in SUBS},
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
        subs={"sub1": "campaign-7"},
    )
