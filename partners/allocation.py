"""Offers whose partners' shares add up to more than the offer pays us: each such conversion would lose money."""

from dataclasses import dataclass, field
from decimal import Decimal

from postbacks_project.cli import money_text
from receiver.lifecycle import Status
from receiver.models import Offer

from .models import OfferShare, Partner, Scope
from .money import partner_share

ZERO = Decimal(0)


@dataclass
class OverAllocated:
    """One offer whose conversion at its payout would give partners `total`, more than `offer.payout`."""

    offer: Offer
    total: Decimal  # in the offer's currency, like its payout
    shares: list = field(default_factory=list)  # [(Partner, share)], in the offer's currency

    @property
    def summary(self):
        """E.g. "partners' shares 2.40 USD exceed the payout 2.00 USD (Pub 1.40, Wall 1.00)"."""
        currency = self.offer.currency
        each = ", ".join(f"{partner.name} {money_text(share)}" for partner, share in self.shares)
        return (
            f"partners' shares {money_text(self.total)} {currency} exceed the payout "
            f"{money_text(self.offer.payout)} {currency} ({each})"
        )


def over_allocated():
    """Active offers whose partners' shares exceed their payout, by name; five queries whatever the size.

    A partner counts when it is active (auto-disabled too: it is re-enabled and replayed with the same terms),
    its networks and offers admit the offer, and it is sent approvals
    at the offer's payout. Its share on the offer overrides its own. Partners paid only for their own clicks
    never share one conversion, so only the largest of their shares adds to the others'.
    """
    partners = Partner.objects.filter(is_active=True).prefetch_related("networks", "offers")
    partners = [partner for partner in partners if not partner.statuses or Status.APPROVED in partner.statuses]
    offer_shares = {(share.partner_id, share.offer_id): share for share in OfferShare.objects.all()}
    found = []
    for offer in Offer.objects.filter(is_active=True).select_related("network").order_by("name", "pk"):
        everyone, own_clicks = [], []
        for partner in partners:
            if not _admits(partner, offer):
                continue
            share = partner_share(partner, offer.payout, offer_shares.get((partner.pk, offer.pk)))
            (own_clicks if partner.scope == Scope.OWN_CLICKS else everyone).append((partner, share))
        largest_own = max(own_clicks, key=lambda row: row[1], default=None)
        shares = everyone + ([largest_own] if largest_own else [])
        total = sum((share for _, share in shares), ZERO)
        if total > offer.payout:
            found.append(OverAllocated(offer=offer, total=total, shares=shares))
    return found


def _admits(partner, offer):
    networks = {network.pk for network in partner.networks.all()}
    offers = {o.pk for o in partner.offers.all()}
    return (
        (not networks or offer.network_id in networks)
        and (not offers or offer.pk in offers)
        and (partner.min_payout is None or offer.payout >= partner.min_payout)
    )
