"""Which partners receive a conversion event (and why the others do not), and the terms attempt() sends on."""

from dataclasses import dataclass

from receiver import config
from receiver.models import EventKind, Network

from .amounts import basis_gross
from .models import NetworkPostback, OfferShare, Partner, Scope


@dataclass(frozen=True)
class RoutingTerms:
    """What a new event's deliveries are made from: the partners it is routed to and their offer shares."""

    partners: list  # filters loaded
    offer_shares: dict  # (partner id, offer id) -> OfferShare


def routing_terms():
    """From this process's copy (one token read), reloaded after any change to partners, networks or offers."""
    return config.cached("partners.routed", _load_routed)


@dataclass(frozen=True)
class SendingTerms:
    """What attempt() renders and pays from: the destinations, the partners' offer shares, and networks (for
    {network})."""

    destinations: dict  # id -> Partner or NetworkPostback
    offer_shares: dict  # (partner id, offer id) -> OfferShare
    networks: dict  # id -> Network


def sending_terms():
    """From this process's copy, like routing: a change to a destination or a share is seen by the next attempt."""
    return config.cached("partners.sending", _load_sending)


def _load_sending():
    return SendingTerms(
        destinations={row.pk: row for model in (Partner, NetworkPostback) for row in model.objects.all()},
        offer_shares={(share.partner_id, share.offer_id): share for share in OfferShare.objects.all()},
        networks={network.pk: network for network in Network.objects.all()},
    )


def _load_routed():
    # Auto-disabled partners are routed too: their deliveries are parked until an admin re-enables them.
    partners = Partner.objects.filter(is_active=True)
    return RoutingTerms(
        partners=list(partners.prefetch_related("networks", "offers")),
        offer_shares={(share.partner_id, share.offer_id): share for share in OfferShare.objects.all()},
    )


def skip_reason(partner, event):
    """None when the partner should get this event, else the reason it is skipped."""
    conversion = event.conversion
    if conversion.is_test and not partner.receives_tests:
        return "a test conversion; this partner does not receive tests"
    if partner.scope == Scope.OWN_CLICKS:
        click = conversion.known_click
        if click is None or not partner.slug or click.partner_slug != partner.slug:
            return "the click did not come through this partner"
    networks = {n.pk for n in partner.networks.all()}
    if networks and conversion.network_id not in networks:
        return f"network {conversion.network_id} is not one of this partner's networks"
    offers = {o.pk for o in partner.offers.all()}
    if offers and conversion.offer_id not in offers:
        return f"offer {conversion.offer_id or '(none)'} is not one of this partner's offers"
    if partner.statuses and event.to_status not in partner.statuses:
        return f"status {event.to_status} is not one of {', '.join(partner.statuses)}"
    if event.kind == EventKind.ADJUSTMENT and not partner.send_adjustments:
        return "payout changes are not sent to this partner (send adjustments is off)"
    basis = basis_gross(event, partner) if partner.min_payout is not None else None
    if basis is not None and basis[0] < partner.min_payout:
        # On the partner's own basis: a house-basis minimum is in the house currency.
        gross, currency = basis
        return f"payout {gross.normalize():f} {currency} is below the minimum {partner.min_payout.normalize():f}"
    return None
