"""Which partners receive a conversion event, and why the others do not."""

from receiver import config

from .models import Partner, Scope


def routed_partners():
    """The partners new events are routed to (not networks' own outgoing postbacks), filters loaded.

    From this process's copy, reloaded after any change to partners, networks or offers.
    """
    return config.cached("partners.routed", _load_routed)


def _load_routed():
    partners = Partner.objects.filter(is_active=True, disabled_at=None, network__isnull=True)
    return list(partners.prefetch_related("networks", "offers"))


def skip_reason(partner, event):
    """None when the partner should get this event, else the reason it is skipped."""
    conversion = event.conversion
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
    if partner.min_payout is not None and event.payout < partner.min_payout:
        return f"payout {event.payout.normalize():f} is below the minimum {partner.min_payout.normalize():f}"
    return None
