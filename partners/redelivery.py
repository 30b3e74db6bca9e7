"""Send chosen deliveries again now, or report unreported claims (admin actions, `redeliver`), saying why not."""

import logging
from dataclasses import dataclass, field

from . import forwarding
from .delivery import report_claim, resend
from .models import Delivery, State

logger = logging.getLogger(__name__)

# The states resend() refuses, and why.
NOT_RESENT = {
    State.SUCCEEDED: "already succeeded",
    State.SENDING: "in flight",
    State.SKIPPED: "skipped by the partner's filters",
    State.WAITING_RATE: "waiting for an exchange rate (manage.py reconvert sends it once the rate is in)",
}
REPLAYABLE = (State.FAILED, State.CANCELLED)


@dataclass
class Report:
    queued: list = field(default_factory=list)
    not_queued: list = field(default_factory=list)

    def summary(self):
        """A sentence such as "queued 2; not queued 1 (already succeeded: 1)"."""
        text = f"queued {len(self.queued)}"
        if self.not_queued:
            reasons = {}
            for _pk, why in self.not_queued:
                reasons[why] = reasons.get(why, 0) + 1
            text += f"; not queued {len(self.not_queued)} (" + ", ".join(f"{w}: {n}" for w, n in reasons.items()) + ")"
        return text


def failed_since(partners, since):
    """Failed and cancelled deliveries of `partners` created at or after `since`, oldest first."""
    return Delivery.objects.filter(destination__in=partners, state__in=REPLAYABLE, created_at__gte=since).order_by("id")


def redeliver(deliveries):
    """Reset each delivery to pending and wake the drainer after commit; a succeeded one is never sent twice."""
    report = Report()
    for delivery in deliveries:
        why = NOT_RESENT.get(delivery.state)
        if why is None and not resend(delivery):
            # It changed under us (a worker finished or claimed it): report what it is now.
            delivery.refresh_from_db(fields=["state"])
            why = NOT_RESENT.get(delivery.state, f"now {delivery.state}")
        if why:
            report.not_queued.append((delivery.pk, why))
        else:
            report.queued.append(delivery.pk)
    if report.queued:
        forwarding.wake_drainer()
    return report


def report_claims(conversions):
    """Queue the network report of each claim that was not reported; the others say why not."""
    report = Report()
    for conversion in conversions:
        delivery = report_claim(conversion)
        if delivery is None:
            conversion.refresh_from_db(fields=["not_reported"])
            report.not_queued.append((conversion.pk, conversion.not_reported or "not an unreported claim"))
        else:
            report.queued.append(delivery.pk)
    if report.queued:
        forwarding.wake_drainer()
    return report
