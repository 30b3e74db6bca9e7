"""The dashboard's links: period presets, and each count to the admin list it summarises, filtered the same way."""

from datetime import timedelta
from urllib.parse import urlencode

from django.urls import reverse

from .figures import period_bounds


def presets(today, current, filters):
    """[(label, url, active)]: today, the last 7 and 30 days, this month; the network, offer and partner kept."""
    periods = [
        ("Today", today, today),
        ("7 days", today - timedelta(days=6), today),
        ("30 days", today - timedelta(days=29), today),
        ("This month", today.replace(day=1), today),
    ]
    return [
        (label, "?" + urlencode({"start": start, "end": end, **filters}), (start, end) == current)
        for label, start, end in periods
    ]


def _changelist(model, **lookups):
    return reverse(f"admin:{model}_changelist") + "?" + urlencode({k: v for k, v in lookups.items() if v != ""})


class Links:
    """URLs of the admin lists behind the figures; None where the list cannot show the same rows (the
    conversions delivered to a partner, deliveries narrowed by network or offer are not a list filter)."""

    def __init__(self, start, end, network=None, offer=None, partner=None):
        since, until = (bound.isoformat() for bound in period_bounds(start, end))
        self.network, self.offer, self.partner = network, offer, partner
        self.created = {"created_at__gte": since, "created_at__lt": until}
        self.received = {"received_at__gte": since, "received_at__lt": until}

    def _ids(self, network_lookup, offer_lookup):
        return {
            network_lookup: self.network.pk if self.network else "",
            offer_lookup: self.offer.pk if self.offer else "",
        }

    def clicks(self):
        partner = {"partner_slug__exact": self.partner.slug} if self.partner else {}
        return _changelist(
            "receiver_click", **self.created, **self._ids("offer__network__id__exact", "offer__id__exact"), **partner
        )

    def network_clicks(self):
        return _changelist(
            "receiver_networkclick", **self.created, **self._ids("network__id__exact", "offer__id__exact")
        )

    def conversions(self, status=""):
        if self.partner:
            return None
        ids = self._ids("network__id__exact", "offer__id__exact")
        return _changelist("receiver_conversion", **self.created, is_test__exact=0, status__exact=status, **ids)

    def postbacks(self, outcome="", reason=""):
        # As the figures: an offer narrows the postbacks to its network (a rejected postback has no offer).
        network = self.network or (self.offer.network if self.offer else None)
        return _changelist(
            "receiver_receivedpostback",
            **self.received,
            network__id__exact=network.pk if network else "",
            outcome__exact=outcome,
            reason__exact=reason,
        )

    def deliveries(self, state=""):
        if self.network or self.offer:
            return None
        partner = self.partner.pk if self.partner else ""
        return _changelist("partners_delivery", **self.created, destination__id__exact=partner, state__exact=state)


def rows(figures, links):
    """The tables' rows as (label, count, url): the template cannot look a status up in a dict by a variable."""
    return {
        "conversions": [
            (status, n, links.conversions(status)) for status, n in figures.conversions.items() if status != "total"
        ],
        "postbacks": [
            (outcome, n, links.postbacks(outcome)) for outcome, n in figures.postbacks.items() if outcome != "total"
        ],
        "reasons": [(reason, n, links.postbacks("rejected", reason)) for reason, n in figures.rejected_by_reason],
        "deliveries": [
            (state, n, links.deliveries(state)) for state, n in figures.deliveries.items() if state != "total"
        ],
    }
